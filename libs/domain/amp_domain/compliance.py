"""Compliance regimes and data sensitivity: which controls a set of constraints calls for.

The planner adds security capabilities for sensitive data, every pattern must be eligible for
the regimes in force, and the policy rules check the same facts, so all read them from here.
"""

from __future__ import annotations

from amp_contracts import ConstraintSchema

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
