"""docs/compliance.md: what the data and the regimes in scope ask of the team, tied to the plan.

Written when the data is sensitive or a regime applies. It states which regimes are in scope and
why (stated, or implied by the data class), which planned components carry the controls, and what
the code cannot decide for the team: the GDPR lawful basis, retention periods and the DPIA. It
gives pointers and checklists, not legal advice.
"""

from __future__ import annotations

from amp_contracts import ConstraintSchema, Plan
from amp_domain.compliance import SECURITY_CAPS, SENSITIVE_CLASSES, data_stays_in_scope, required_regimes

from .render_domain import Domain
from .render_text import md_cell, md_code, md_inline

_TITLES = {"pci_dss": "PCI DSS", "gdpr": "GDPR", "hipaa": "HIPAA", "soc2": "SOC 2", "iso27001": "ISO 27001",
           "ccpa": "CCPA", "fedramp": "FedRAMP"}
#: Domains whose decisions are about a person, where automated decision-making rules apply.
_DECIDES_ABOUT_PEOPLE = frozenset({"fraud", "credit", "churn", "readmission"})
#: A lawful basis a team in this domain usually starts from; the team's DPO decides.
_BASIS_HINT = {
    "fraud": "legitimate interest in preventing fraud (GDPR Recital 47), or a legal obligation where one applies",
    "credit": "performance of the credit contract, or a legal obligation (creditworthiness assessment)",
    "churn": "legitimate interest (customer retention), with an opt-out for marketing actions",
    "readmission": "health data needs an Article 9(2) condition, e.g. (h) provision of health care",
    "ranking": "legitimate interest or consent, depending on how personalised the ranking is",
    "ctr": "consent where the ad targeting relies on tracking (ePrivacy), otherwise legitimate interest",
}
_EU_PREFIXES = ("eu-", "europe-", "west europe", "north europe")
_EU_AZURE = frozenset({"westeurope", "northeurope", "francecentral", "francesouth", "germanywestcentral",
                       "germanynorth", "swedencentral", "polandcentral", "italynorth", "spaincentral",
                       "norwayeast", "switzerlandnorth"})
_DPIA_GUIDANCE = "https://ec.europa.eu/newsroom/article29/items/611236"


def in_scope(plan: Plan, constraints: ConstraintSchema) -> list[str]:
    """Regimes in scope: those the policy checks (stated or implied by the data class), then the rest stated."""
    regimes = required_regimes(constraints)
    return [*regimes, *(r for r in constraints.compliance if r not in regimes)]


def _why(regime: str, constraints: ConstraintSchema) -> str:
    if regime in constraints.compliance:
        return "stated in the requirements"
    return f"implied by the data class `{constraints.data_classification}`"


def _eu(region: str) -> bool:
    r = region.lower()
    return r.startswith(_EU_PREFIXES) or r in _EU_AZURE


def compliance_md(plan: Plan, constraints: ConstraintSchema, domain: Domain) -> str | None:
    """The document, or None when neither the data nor a regime calls for one."""
    regimes = in_scope(plan, constraints)
    sensitive = constraints.data_classification in SENSITIVE_CLASSES
    if not regimes and not sensitive:
        return None
    caps = {c.capability for c in plan.components}
    lines = ["# Compliance", "",
             "What the data and the regimes in scope ask of this system, and where the plan carries it. "
             "Pointers and checklists for the team and its DPO or QSA, not legal advice.", "",
             f"- **Data class**: `{constraints.data_classification or 'not stated'}`",
             f"- **Model**: {md_inline(domain.title)}; features in `services/common/schema.py`",
             f"- **Regions**: {', '.join(md_code(r) for r in plan.regions) or 'not stated'}", "",
             "| Regime | Why it applies |", "|---|---|"]
    lines += [f"| {_TITLES.get(r, r)} | {_why(r, constraints)} |" for r in regimes]  # our own words
    controls = [f"- `{cap}`: {'planned' if cap in caps else '**not planned**: add it or record why not'}"
                for cap in SECURITY_CAPS]
    lines += ["", "## Controls in the plan", "", *controls]
    if (scope := data_stays_in_scope(constraints)) and "training" in caps:
        lines += [f"- CI runners: the data is held inside the team's network by {scope}, so the workflows that "
                  "read it (`retrain.yml`, `drift.yml`) run only on the self-hosted runner `TRAINING_RUNNER` names "
                  "there; a hosted runner stops before it reads anything."]
    if "pci_dss" in regimes:
        lines += ["", "## PCI DSS", "",
                  "- The cardholder data environment is every planned component that stores, processes or "
                  "transmits card data: " + ", ".join(f"`{c.capability}`" for c in plan.components
                                                      if c.capability not in ("ci_cd", "monitoring")) + ".",
                  "- Keep primary account numbers out of the training data: tokenise them before they reach "
                  "`DATA_URI`; the model's features (`services/common/schema.py`) need no card number.",
                  "- Encryption of stored data with customer-managed keys (requirement 3), TLS in transit (4), "
                  "least-privilege access (7), audit logs retained for a year (10).",
                  "- The validation runs and the policy report (`reports/policy.json`) are evidence for the "
                  "assessor, not a substitute for the assessment."]
    if "hipaa" in regimes:
        lines += ["", "## HIPAA", "",
                  "- Sign a business associate agreement with the cloud provider before PHI reaches it; use only "
                  "HIPAA-eligible services (the policy report checks the planned ones).",
                  "- De-identify training data where the model allows (Safe Harbor or expert determination); "
                  "log access to PHI (`audit_logging`)."]
    if "gdpr" in regimes:
        outside = [r for r in plan.regions if not _eu(r)]
        basis = _BASIS_HINT.get(domain.key, "to be decided with the DPO for each purpose below")
        lines += ["", "## GDPR", "",
                  "### Lawful basis", "",
                  "Record one lawful basis (Article 6, and an Article 9 condition for special categories) per "
                  "purpose before personal data is processed:", "",
                  "| Purpose | Lawful basis | Decided by |", "|---|---|---|",
                  f"| Training and evaluating the model | {md_cell(basis)} | |",
                  f"| Scoring ({md_cell(domain.title)}) | {md_cell(basis)} | |",
                  "| Drift monitoring | the same as scoring (same data, same purpose) | |", "",
                  "### Retention", "",
                  "- Training data under `DATA_URI`: keep it only as long as retraining needs it; set the period "
                  "as a lifecycle rule on the planned storage, not by hand.",
                  "- Model versions under `MODEL_URI`: each records the data version it was trained on "
                  "(`metadata.json`), so a version trained on erased data can be found and retired.",
                  "- Logs and drift reports: keep them no longer than operations and audit need.", "",
                  "### Data subjects' rights", "",
                  "- Erasure: delete the person's rows under `DATA_URI`; the next scheduled retraining produces a "
                  "model without them.",
                  "- Data minimisation: the model uses only the features in `services/common/schema.py`; "
                  "`entity_id` is a pseudonymous key, never a name or an e-mail address."]
        if domain.key in _DECIDES_ABOUT_PEOPLE:
            lines += ["- Automated decisions (Article 22): a score that decides about a person needs a way to "
                      "obtain human review and to contest the decision; route flagged cases to a reviewer."]
        lines += ["", "### DPIA", "",
                  "A data protection impact assessment (Article 35) is required before processing that evaluates "
                  "people systematically (profiling, scoring) or handles special categories at scale; most "
                  f"production ML on personal data qualifies. Guidance: [EDPB WP248 rev.01]({_DPIA_GUIDANCE}). "
                  "Keep the assessment next to this file and review it when the features or the purpose change."]
        if outside:
            lines += ["", "### Transfers", "",
                      f"Regions outside the EU/EEA ({', '.join(md_code(r) for r in outside)}) need a transfer "
                      "mechanism (adequacy decision or standard contractual clauses) for personal data."]
    return "\n".join(lines) + "\n"
