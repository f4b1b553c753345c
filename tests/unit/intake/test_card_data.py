"""Card data is classed pci and brings PCI DSS into scope; payments without card words raise a question."""

from __future__ import annotations

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.compliance import card_data_unclear, required_regimes
from amp_domain.requirements.extraction import extract

from services.intake.nodes import coverage_check

README_EXAMPLE = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
                  "99.9% availability, budget $6,000 per month. Internal transaction data, GDPR. Containers. "
                  "Retrain weekly.")


@pytest.mark.parametrize("text", [
    README_EXAMPLE,
    "Score credit card transactions for fraud in real time",
    "Debit card authorizations must be approved within 50 ms",
    "We detect card-not-present fraud for online merchants",
    "Model card spend per customer from our payment card history",
    "Prepaid cards issued to gig workers; flag unusual card purchases",
])
def test_card_data_is_pci_and_brings_pci_dss_into_scope(text):
    c = extract(text).constraints
    assert c.data_classification == "pci"
    assert "pci_dss" in required_regimes(c)
    assert card_data_unclear(text, c) is None


@pytest.mark.parametrize("text", [
    "A board game recommender: which card games do players like?",
    "Scorecard for our sales team, internal data",
    "Credit risk scoring for small-business loans, PII",
    "Business card scanner app that extracts names",
])
def test_other_cards_are_not_cardholder_data(text):
    assert extract(text).constraints.data_classification != "pci"


def test_the_most_restrictive_class_wins_over_a_stated_internal():
    c = extract(README_EXAMPLE).constraints
    assert c.data_classification == "pci" and c.compliance == ["gdpr"]
    assert required_regimes(c) == ["gdpr", "pci_dss"]


@pytest.mark.parametrize("text", [
    "Fraud scoring of payment transactions for our checkout, internal data",
    "Risk scores for merchants onboarding to our platform",
    "Categorise wallet top-ups and purchases in real time",
])
def test_payments_without_card_words_ask_about_card_data(text):
    c = extract(text).constraints
    conflict = card_data_unclear(text, c)
    assert conflict is not None and conflict.resolve == "data_classification" and conflict.severity == "warn"
    assert "PCI DSS" in conflict.message
    answered = c.merged({"data_classification": "pci"})
    assert card_data_unclear(text, answered) is None
    assert card_data_unclear(text, c.merged({"compliance": ["pci_dss"]})) is None


def test_the_intake_records_the_question_without_blocking():
    text = "Fraud scoring of payment transactions, AWS eu-west-1, internal data, budget $2k per month, online API"
    c = extract(text).constraints
    out = coverage_check({"text": text, "constraints": c})
    ids = [x.fields for x in out["coverage"].conflicts]
    assert ["data_classification"] in ids
    assert "card data" in " ".join(out["cards"][0].risks)
    plain = coverage_check({"text": "Churn scoring for subscribers", "constraints": ConstraintSchema()})
    assert not any(x.fields == ["data_classification"] for x in plain["coverage"].conflicts)
