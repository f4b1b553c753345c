"""Compliance regimes and data sensitivity: which controls a set of constraints calls for.

The planner adds security capabilities for sensitive data, every pattern must be eligible for
the regimes in force, and the policy rules check the same facts, so all read them from here.
"""

from __future__ import annotations

import re

from amp_contracts import Conflict, ConstraintSchema

from .catalog import ELIGIBILITY

SENSITIVE_CLASSES: frozenset[str] = frozenset({"confidential", "pii", "phi", "pci"})
#: Regimes whose presence calls for encryption keys, private networking and audit logs.
CONTROL_REGIMES: frozenset[str] = frozenset({"hipaa", "pci_dss", "gdpr", "soc2", "iso27001", "fedramp"})
SECURITY_CAPS: tuple[str, ...] = ("security_kms", "networking_private", "audit_logging")


def required_regimes(c: ConstraintSchema) -> list[str]:
    """Regimes every pattern must be eligible for: those stated, plus those the data class implies."""
    regimes = {r for r in c.compliance if r in ELIGIBILITY}
    if c.data_classification == "pci":
        regimes.add("pci_dss")
    if c.data_classification == "phi":
        regimes.add("hipaa")
    return sorted(regimes)


def is_sensitive(c: ConstraintSchema) -> bool:
    return c.data_classification in SENSITIVE_CLASSES or bool(set(c.compliance) & CONTROL_REGIMES)


#: Data classes and regimes under which the data may be processed only on machines inside the scope
#: the plan builds: a shared CI runner elsewhere brings that runner (and its owner) into scope.
_IN_SCOPE_CLASSES = {"pci": "PCI DSS (card data)", "phi": "HIPAA (health data)"}
_IN_SCOPE_REGIMES = {"pci_dss": "PCI DSS (card data)", "hipaa": "HIPAA (health data)", "fedramp": "FedRAMP"}


def data_stays_in_scope(c: ConstraintSchema) -> str | None:
    """What holds the environment's data inside the team's network, or None when nothing does.

    Jobs that read the lake (retraining, drift) run wherever their workflow says. A hosted runner
    sits outside the account, the network and any stated residency, so data under a residency
    rule, card or health data and the regimes that audit every system touching them stay on a
    runner the team places inside. Reads after "held inside the team's network by".
    """
    reasons = [_IN_SCOPE_CLASSES[c.data_classification]] if c.data_classification in _IN_SCOPE_CLASSES else []
    reasons += [label for key, label in _IN_SCOPE_REGIMES.items() if key in c.compliance]
    if c.data_residency:
        reasons.append(f"data residency ({c.data_residency})")
    unique = list(dict.fromkeys(reasons))
    return " and ".join([", ".join(unique[:-1]), unique[-1]] if len(unique) > 1 else unique) or None


_PAYMENT_WORDS = re.compile(
    r"\b(?:payments?|transactions?|txns?|merchants?|checkout|point[- ]of[- ]sale|pos\s+terminals?|acquir(?:er|ing)|"
    r"issuers?|wallets?|purchases?|chargebacks?|remittances?|e-?commerce\s+orders?)\b", re.IGNORECASE)


def card_data_unclear(text: str, c: ConstraintSchema) -> Conflict | None:
    """Payments are mentioned but not whether card data is handled; that decides PCI DSS scope.

    Card words ("card transactions", "cardholder data") already make the data class pci; this is
    for the text that speaks of payments or transactions only. The answer is the data class.
    """
    if c.data_classification in ("pci", "phi") or "pci_dss" in c.compliance:
        return None
    m = _PAYMENT_WORDS.search(text or "")
    if m is None:
        return None
    return Conflict(
        fields=["data_classification"], severity="warn", resolve="data_classification",
        message=f"The requirements mention {m.group(0).lower()} but not whether card data (card numbers, "
                "cardholder data) is processed; if it is, the data class is pci and PCI DSS applies.")
