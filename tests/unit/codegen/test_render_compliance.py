"""docs/compliance.md follows the data and the regimes in scope, from the requirement through the real chain."""

from __future__ import annotations

from amp_contracts import ConstraintSchema
from amp_domain.requirements.extraction import extract

from services.codegen.render import render_repository
from services.codegen.render_compliance import compliance_md
from services.codegen.render_domain import DOMAINS
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.policy.engine import evaluate

README_EXAMPLE = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
                  "99.9% availability, budget $6,000 per month. Internal transaction data, GDPR. Containers. "
                  "Retrain weekly.")


def _chain(text: str):
    constraints = extract(text).constraints
    plan = compose_plan(constraints)
    cost = estimate(plan, constraints)
    policy = evaluate(constraints, plan, cost)
    files = render_repository(plan, constraints, cost, policy, [], [], "Card fraud scoring", text)
    return constraints, plan, policy, files


def test_the_readme_example_is_pci_with_gdpr_notes():
    constraints, _, policy, files = _chain(README_EXAMPLE)
    assert constraints.data_classification == "pci"
    rule = next(r for r in policy.rules if r.id == "pci_dss_scope")
    assert "not applicable" not in rule.detail
    doc = files["docs/compliance.md"]
    assert "| PCI DSS | implied by the data class `pci` |" in doc
    assert "| GDPR | stated in the requirements |" in doc
    for heading in ("## PCI DSS", "### Lawful basis", "### Retention", "### DPIA"):
        assert heading in doc
    assert "Recital 47" in doc and "Article 22" in doc  # fraud decides about people
    assert "### Transfers" not in doc  # eu-west-1 stays in the EU
    assert 'DOMAIN = "fraud detection"' in files["services/common/schema.py"]


def test_no_document_without_sensitive_data_or_a_regime():
    _, _, _, files = _chain("Nightly demand forecasts for 2,000 stores on Azure West Europe. Public data. "
                            "Budget $1,500 per month.")
    assert "docs/compliance.md" not in files


def test_gdpr_outside_the_eu_names_the_transfer_and_no_pci_section():
    constraints, plan, _, _ = _chain("Churn scoring API on AWS us-east-1 for EU customers, GDPR, PII. "
                                     "Budget $3,000 per month.")
    doc = compliance_md(plan, constraints, DOMAINS["churn"])
    assert doc is not None and "### Transfers" in doc and "`us-east-1`" in doc
    assert "## PCI DSS" not in doc and "## HIPAA" not in doc


def test_health_data_brings_hipaa_notes():
    constraints = ConstraintSchema(cloud="aws", regions=["us-west-2"], data_classification="phi")
    plan = compose_plan(constraints)
    doc = compliance_md(plan, constraints, DOMAINS["readmission"])
    assert doc is not None and "## HIPAA" in doc and "## GDPR" not in doc
    assert "| HIPAA | implied by the data class `phi` |" in doc
