"""The workload domain of the generated code is read from the requirement, never borrowed from another."""

from __future__ import annotations

import csv
import io
import re

import pytest
from amp_contracts import ConstraintSchema, Plan
from amp_domain.requirements.extraction import extract

from services.codegen.render_domain import (
    DOMAINS,
    MIN_SCORE,
    choose_domain,
    generic_domain,
    sample_csv,
    score_domains,
    task_phrase,
)
from tests.evaldata import intake_cases, scenarios

EMPTY = Plan(cloud="aws", regions=["us-east-1"], components=[])

PHRASINGS = [
    ("Real-time card fraud scoring API on AWS eu-west-1", "fraud"),
    ("Flag fraudulent payments before they settle", "fraud"),
    ("Predict chargebacks on marketplace orders", "fraud"),
    ("Anti money laundering alerts on wire transfers", "fraud"),
    ("Detect account takeover attempts at login", "fraud"),
    ("Which subscribers are likely to cancel next month?", "churn"),
    ("Customer churn prediction, nightly batch", "churn"),
    ("Reduce employee attrition with an early-warning model", "churn"),
    ("Weekly demand forecasting for 2,000 stores", "forecasting"),
    ("Predict daily sales per SKU for replenishment", "forecasting"),
    ("Forecast call volumes for our contact centre", "forecasting"),
    ("Time-series model of electricity load", "forecasting"),
    ("Product recommendations on the home page", "ranking"),
    ("Search ranking for our marketplace", "ranking"),
    ("Next best offer for bank customers in the app", "ranking"),
    ("Recommend similar articles to readers", "ranking"),
    ("Click-through rate prediction for sponsored listings", "ctr"),
    ("Ad click prediction at 10k QPS", "ctr"),
    ("Anomaly detection on factory sensor streams", "anomaly"),
    ("Predictive maintenance for wind turbines", "anomaly"),
    ("Spot outliers in IoT telemetry from pumps", "anomaly"),
    ("Credit risk scoring for small-business loans", "credit"),
    ("Probability of default for loan applications", "credit"),
    ("30-day readmission risk for discharged patients", "readmission"),
    ("Support ticket routing: classify incoming tickets by topic", "document"),
    ("Sentiment of product reviews", "document"),
    ("Intent classification for a voice assistant", "document"),
    ("Spam filtering for user messages", "document"),
    ("Medical imaging triage for chest x-rays", "image"),
    ("Classify product photos into categories", "image"),
    ("Visual inspection of welds on the assembly line", "image"),
]


@pytest.mark.parametrize(("text", "key"), PHRASINGS)
def test_each_phrasing_gets_its_domain(text, key):
    assert choose_domain(EMPTY, ConstraintSchema(), text).key == key


@pytest.mark.parametrize("text", [
    "Our fintech needs transaction categorization within 500 ms",
    "Build me something to score leads every hour",
    "Insurance pricing for motor policies",
    "Translation quality estimation for our localisation team",
    "Route parcels to the right depot",
])
def test_an_unknown_task_gets_the_generic_template_in_the_users_words(text):
    domain = choose_domain(EMPTY, ConstraintSchema(data_classification="pci", compliance=["hipaa"],
                                                   workload_types=["streaming"]), text)
    assert domain.key == "generic"
    words = set(re.findall(r"[a-z]+", text.lower()))
    title_words = re.findall(r"[a-z]+", domain.title)
    assert title_words and all(w in words or w.rstrip("s") in {x.rstrip("s") for x in words}
                               or w in {"scoring", "classification", "categorization", "routing", "pricing",
                                        "estimation"} for w in title_words), domain.title
    assert domain.title not in {d.title for d in DOMAINS.values()}


def test_the_generic_task_follows_the_words():
    assert generic_domain("Insurance pricing for motor policies").task == "regression"
    assert generic_domain("transaction categorization").task == "multiclass"
    assert generic_domain("lead scoring").task == "binary"
    assert task_phrase("Build me something to score leads every hour") == "lead scoring"
    assert task_phrase("no task words here at all") == ""


def test_constraints_break_ties_but_never_choose_alone():
    nothing = "A machine learning platform on AWS for our team"
    for c in (ConstraintSchema(data_classification="pci", compliance=["pci_dss"]),
              ConstraintSchema(data_classification="phi", compliance=["hipaa"]),
              ConstraintSchema(workload_types=["streaming"], gpu=True)):
        assert choose_domain(EMPTY, c, nothing).key == "generic"
    weak = "sensor readings"  # one weak cue: not enough on its own
    assert choose_domain(EMPTY, ConstraintSchema(), weak).key == "generic"
    assert choose_domain(EMPTY, ConstraintSchema(workload_types=["streaming"]), "sensor telemetry").key == "anomaly"


def test_negated_and_embedded_words_do_not_count():
    assert choose_domain(EMPTY, ConstraintSchema(), "Credit risk model for a bank in Frankfurt").key == "credit"
    assert choose_domain(EMPTY, ConstraintSchema(), "Ship container images to ECR; lead scoring").key == "generic"
    scores = {s.key: s.score for s in score_domains("no fraud is expected here, just sales", ConstraintSchema())}
    assert scores["fraud"] == 0


def _all_cases():
    return [pytest.param(c["text"], id=c["id"]) for c in scenarios() + intake_cases()]


@pytest.mark.parametrize("text", _all_cases())
def test_shared_cases_get_a_domain_their_words_name(text):
    """Every evaluation text: the domain chosen is one whose cues the text contains, or the
    generic template titled with the text's own words; never a domain the text does not name."""
    constraints = extract(text).constraints
    domain = choose_domain(EMPTY, constraints, text)
    scores = {s.key: s for s in score_domains(text, constraints)}
    if domain.key == "generic":
        assert all(s.score < MIN_SCORE for s in scores.values())
        words = {w.rstrip("s") for w in re.findall(r"[a-z]+", text.lower())}
        nouns = {"scoring", "classification", "categorization", "prediction", "detection", "estimation", "pricing",
                 "tagging", "routing", "matching", "triage"}
        assert all(w.rstrip("s") in words or w in nouns for w in domain.title.split())
    else:
        assert scores[domain.key].cues, f"{domain.key} chosen without any of its words in the text"
        assert scores[domain.key].score == max(s.score for s in scores.values())


def test_the_readme_example_is_fraud_with_imbalanced_time_split_data():
    text = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
            "99.9% availability, budget $6,000 per month. Internal transaction data, GDPR. Containers. Retrain weekly.")
    domain = choose_domain(EMPTY, extract(text).constraints, text)
    assert domain.key == "fraud" and domain.split == "time"
    assert {"pr_auc", "recall_at_fpr"} <= {m for m, _ in domain.gate}


@pytest.mark.parametrize("key", sorted(DOMAINS))
def test_sample_data_matches_each_domain(key):
    domain = DOMAINS[key]
    rows = list(csv.DictReader(io.StringIO(sample_csv(domain))))
    assert len(rows) == domain.rows
    labels = [r[domain.label] for r in rows]
    if domain.task == "binary":
        share = labels.count("1") / len(labels)
        assert abs(share - domain.positive_rate) <= 0.01
    elif domain.task == "multiclass":
        assert set(labels) == set(domain.classes)
    else:
        assert len(set(labels)) > 2
    if domain.split == "time":
        stamps = [r["event_time"] for r in rows]
        assert stamps == sorted(stamps) and stamps[0] != stamps[-1]
    if domain.group:
        assert len({r[domain.group] for r in rows}) == domain.rows // domain.group_size
    for f in domain.features:
        values = [float(r[f.name]) for r in rows]
        assert f.low <= min(values) and max(values) <= f.high
    assert sample_csv(domain) == sample_csv(domain)


def test_rare_event_domains_are_imbalanced():
    assert DOMAINS["fraud"].positive_rate <= 0.01
    assert DOMAINS["anomaly"].positive_rate <= 0.05
    for key in ("fraud", "anomaly"):
        assert DOMAINS[key].metrics[0] == "pr_auc" and "recall_at_fpr" in DOMAINS[key].metrics
    assert DOMAINS["forecasting"].metrics[0] == "mape" and DOMAINS["forecasting"].split == "time"
    assert DOMAINS["ranking"].metrics[0] == "ndcg_at_10" and DOMAINS["ranking"].split == "group"


def test_the_generated_readme_and_config_describe_the_chosen_domain(rendered):
    fraud = rendered["aws_online_pci"]
    assert "Fraud detection" in fraud["README.md"] and "churn" not in fraud["README.md"].lower()
    assert "PR-AUC ≥" in fraud["README.md"] and "`DATA_URI`" in fraud["README.md"]
    assert 'strategy = "time"' in fraud["config/training.toml"]
    assert "pr_auc = { min =" in fraud["config/training.toml"]
    assert 'TASK = "binary"' in fraud["services/common/schema.py"]
    forecast = rendered["aws_streaming_serverless"]
    assert "mape = { max =" in forecast["config/training.toml"] and "MAPE" in forecast["README.md"]
    generic = rendered["gcp_full"]
    assert "Transaction categorization (a generic template" in generic["README.md"]
    assert 'DOMAIN = "transaction categorization"' in generic["services/common/schema.py"]
    ranking = rendered["azure_online_containers"]
    assert "ndcg_at_10 = { min =" in ranking["config/training.toml"]
    assert 'strategy = "group"' in ranking["config/training.toml"]
