"""The phrasing families the third blind set brought out, each with the counter-cases it must leave alone.

Tools only weighed up, a percentile named after its figure, hourly counts whose noun came
earlier, multiples of a rate said just before, USD figures restating foreign amounts, totals
over some months, past spend, negations carried through or-lists and concessions, regime
long forms, list-only language abbreviations, data-class phrasings, and events handled one by
one as they arrive.
"""

from __future__ import annotations

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.requirements.extract_numbers import parse_decimal_words
from amp_domain.requirements.extraction import extract, extract_patch


def c(text: str) -> ConstraintSchema:
    return extract(text).constraints


# ------------------------------------------------------------------ tools only considered

@pytest.mark.parametrize("text,expected", [
    ("We might put online features in Cosmos DB, but nothing is decided.", []),
    ("We still run Redshift and Airflow today; we are evaluating Snowflake and Databricks as replacements.",
     ["redshift", "airflow"]),
    ("Databricks and Kafka today; we are considering Feast.", ["databricks", "kafka"]),
    ("We run Kafka. Feast is under consideration.", ["kafka"]),
    ("We may adopt Flink next year; Kafka is in production.", ["kafka"]),
])
def test_a_tool_only_weighed_up_is_not_existing_stack(text: str, expected: list[str]) -> None:
    assert sorted(c(text).existing_stack) == sorted(expected)


@pytest.mark.parametrize("text,expected", [
    ("We still run Redshift; it is being phased out next year.", ["redshift"]),
    ("We are evaluating models with MLflow and deploy on EKS.", ["mlflow", "kubernetes"]),
    ("We plan to keep using Airflow.", ["airflow"]),
    ("We may need to scale Kafka next year.", ["kafka"]),
    ("We use Snowflake, and we are looking at dashboards in Grafana.", ["snowflake", "grafana"]),
])
def test_a_tool_in_use_stays_existing_stack(text: str, expected: list[str]) -> None:
    assert sorted(c(text).existing_stack) == sorted(expected)


def test_a_tool_weighed_up_is_not_removed_by_a_patch() -> None:
    current = ConstraintSchema(existing_stack=["feast"])
    assert "existing_stack" not in extract_patch("We are considering Feast.", current)


# ------------------------------------------------------------------ latency

@pytest.mark.parametrize("text,expected", [
    ("Median answer time is about 0.9 s today; the contractual bound is 2.2 s at p95.", 2200),
    ("Caseworkers use an online lookup at about 30 requests per second, 1.2 s at p95.", 1200),
    ("Lookups at 30 rps, 1.2 s at the 95th percentile.", 1200),
    ("The answer has to come back in under a quarter second.", 250),
    ("Respond within three quarters of a second.", 750),
])
def test_latency_percentile_after_the_figure_and_fractions_in_words(text: str, expected: float) -> None:
    assert c(text).sla_latency_ms == pytest.approx(expected)


@pytest.mark.parametrize("text,expected", [
    ("p95 under 80 ms", 80), ("median 40 ms, p95 no worse than 150 ms", 150),
    ("Retention is 30 s at peak.", None), ("Median answer time is about 0.9 s.", 900),
    ("Respond within a quarter of a second.", 250),
])
def test_latency_counter_cases(text: str, expected: float | None) -> None:
    assert c(text).sla_latency_ms == (pytest.approx(expected) if expected is not None else None)


# ------------------------------------------------------------------ rates

@pytest.mark.parametrize("text,expected", [
    ("Smart-meter readings arrive continuously, 2.16 million per hour at peak.", 600),
    ("Playback events stream in at 1.44 million per hour on average and 4x that during cricket finals.", 1600),
    ("Ad ranking API: 2,000 rps normally and 3x that during campaign launches.", 6000),
    ("Collar sensors on 90,000 cows each report every 10 minutes.", 150),
    ("5,000 meters report every 15 minutes.", 5000 / 900),
    ("Events at 2 million per hour.", 2_000_000 / 3600),
])
def test_rate_families(text: str, expected: float) -> None:
    assert c(text).throughput_rps == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("text,expected", [
    ("Ad ranking API: 2,000 rps, 3x that of last year.", 2000),  # a comparison, not a peak
    ("We generate 3 reports every 10 minutes.", None),  # a schedule of reports
    ("We run 4 jobs per hour.", None),
    ("2 million per hour.", None),  # a bare hourly count with nothing named that it counts
])
def test_rate_counter_cases(text: str, expected: float | None) -> None:
    assert c(text).throughput_rps == (pytest.approx(expected) if expected is not None else None)


# ------------------------------------------------------------------ budgets

@pytest.mark.parametrize("text,expected", [
    ("Budget IDR 150 million per month (≈ US$9,300).", 9300),
    ("Budget QAR 18,000 a month (≈ $4,950).", 4950),
    ("Funding is between £9k and £12k per quarter, i.e. roughly $11.5k to $15.3k.", 5100),
    ("Budget between £9k and £12k per quarter, i.e. roughly $11.5k to $15.3k.", 5100),
    ("Budget: $1.5M over 12 months.", 125_000),
    ("Budget: $90k for the next 18 months.", 5000),
    ("Budget: $1.2M over two years.", 50_000),
])
def test_budget_families(text: str, expected: float) -> None:
    assert c(text).budget_monthly_usd == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("text,expected", [
    ("Budget $5k a month for 12 months.", 5000),  # a monthly figure stays monthly
    ("Budget $6k/month.", 6000),
    ("Budget $35k a month (we currently pay $52k a month on the old stack).", 35_000),
    ("We currently pay $52k a month; the budget is $35k a month.", 35_000),
    ("We spend no more than $5k a month.", 5000),  # a cap said with the spend is a cap
    ("We can spend $1,800 per week.", 1800 * 52 / 12),
    ("Budget: CHF 27,000 per quarter (≈ USD 30,000).", 10_000),
    # a day is 365/12 of a month, as the platform's 730-hour month has it
    ("Finance told us to keep infrastructure at or below $180 a day.", 180 * 365 / 12),
])
def test_budget_counter_cases(text: str, expected: float) -> None:
    assert c(text).budget_monthly_usd == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("text", [
    "We paid our previous vendor $38,000 a month, which is why we're leaving; a budget has not been set.",
    "Our current bill is $7,000 a month.",
    "Last year's vendor charged us 14k/month.",
    "We file 200 SAR a month.",  # a suspicious-activity report, not a currency
])
def test_past_spend_is_never_a_budget(text: str) -> None:
    assert c(text).budget_monthly_usd is None


# ------------------------------------------------------------------ negation

@pytest.mark.parametrize("text,denied", [
    ("HIPAA was raised but does not apply (these are animals).", "hipaa"),
    ("GDPR came up, but it does not apply to us.", "gdpr"),
])
def test_a_regime_conceded_then_denied(text: str, denied: str) -> None:
    constraints = c(text)
    assert denied not in constraints.compliance
    assert constraints.data_classification is None


@pytest.mark.parametrize("text", ["HIPAA applies to all member data.", "HIPAA was raised by legal and applies."])
def test_a_regime_that_applies_still_does(text: str) -> None:
    constraints = c(text)
    assert constraints.compliance == ["hipaa"]
    assert constraints.data_classification == "phi"


def test_negation_carries_through_an_or_list() -> None:
    constraints = c("We don't want to manage clusters or Kubernetes: fully serverless.")
    assert constraints.existing_stack == []
    assert constraints.deployment_pref == "serverless"
    assert c("We avoid Lambda, Kafka or Redis.").existing_stack == []
    assert c("Neither Kafka nor Kinesis.").existing_stack == []


@pytest.mark.parametrize("text,expected", [
    ("We use Kafka, Redis or Postgres.", ["kafka", "redis", "postgres"]),
    ("We run Kafka and Redis or Postgres.", ["kafka", "redis", "postgres"]),
])
def test_a_list_without_negation_is_kept(text: str, expected: list[str]) -> None:
    assert sorted(c(text).existing_stack) == sorted(expected)


def test_public_after_denied_pii_is_not_carried() -> None:
    assert c("No PII, public data only.").data_classification == "public"


def test_pci_out_of_scope_keeps_card_words_from_making_pci() -> None:
    constraints = c("Card data is tokenised by our payment provider before it reaches us, so we are outside PCI DSS "
                    "scope; buyers' emails and IP addresses are personal data.")
    assert constraints.compliance == []
    assert constraints.data_classification == "pii"


@pytest.mark.parametrize("text", ["We process card payments, so PCI DSS applies.", "We process card payments."])
def test_card_words_still_make_pci(text: str) -> None:
    assert c(text).data_classification == "pci"


# ------------------------------------------------------------------ aliases

@pytest.mark.parametrize("text,regime", [
    ("Health Insurance Portability and Accountability Act obligations apply.", "hipaa"),
    ("We are subject to California privacy law.", "ccpa"),
    ("California's consumer privacy act applies.", "ccpa"),
])
def test_regime_long_forms(text: str, regime: str) -> None:
    assert c(text).compliance == [regime]


def test_availability_in_words() -> None:
    assert c("Availability: ninety-nine point nine five percent.").availability_target == pytest.approx(99.95)
    assert c("We need ninety-nine point nine percent uptime.").availability_target == pytest.approx(99.9)
    assert c("Accuracy of ninety-nine point five percent.").availability_target is None


@pytest.mark.parametrize("raw,expected", [
    ("ninety-nine point nine five", 99.95), ("ninety nine point nine", 99.9), ("three point one four", 3.14),
    ("ninety-nine point", None), ("ninety-nine point banana", None),
])
def test_parse_decimal_words(raw: str, expected: float | None) -> None:
    assert parse_decimal_words(raw) == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("text,expected", [
    ("• Azure Canada East • no FaaS • Python/TS", ["python", "typescript"]),
    ("Team: Go, TS and SQL.", ["go", "typescript", "sql"]),
    ("Java & JS on the front end.", ["java", "javascript"]),
    ("TS data is stored daily in Python notebooks.", ["python"]),  # TS beside no language: not one
    ("We forecast TS.", []),
])
def test_list_only_language_abbreviations(text: str, expected: list[str]) -> None:
    assert c(text).team_languages == expected


def test_a_bullet_ends_a_negated_item() -> None:
    constraints = c("• online API • no FaaS • Python")
    assert constraints.team_languages == ["python"]
    assert constraints.deployment_pref == "containers"


# ------------------------------------------------------------------ data classification

@pytest.mark.parametrize("text,expected", [
    ("We classify the inputs as internal.", "internal"),
    ("Maps come from public satellite imagery and our internal drainage-sensor data.", "internal"),
    ("Transactions are confidential and include account holders' names.", "pii"),
    ("We hold viewing history and emails.", "pii"),
])
def test_data_class_phrasings(text: str, expected: str) -> None:
    assert c(text).data_classification == expected


@pytest.mark.parametrize("text,expected", [
    ("We classify tickets as internal or external.", None),  # the model's task, not the data's class
    ("We store names of products.", None),
    ("We classify emails by topic.", None),
    ("Transactions are confidential.", "confidential"),
])
def test_data_class_counter_cases(text: str, expected: str | None) -> None:
    assert c(text).data_classification == expected


# ------------------------------------------------------------------ streaming workloads

@pytest.mark.parametrize("text", [
    "Oil-well telemetry is consumed non-stop from Pub/Sub, and alerts must be raised in under 4 s.",
    "The app pushes receipts to SQS, and they are processed one by one as they come in, each within 2 seconds.",
    "Each transaction is scored as it arrives, within 100 ms.",
])
def test_events_handled_as_they_arrive_are_streaming_not_online(text: str) -> None:
    assert c(text).workload_types == ["streaming"]


@pytest.mark.parametrize("text,expected", [
    ("The API must answer within 200 ms.", ["online"]),
    ("We consume a lot of data from BigQuery for nightly training.", ["batch"]),
])
def test_workload_counter_cases(text: str, expected: list[str]) -> None:
    assert c(text).workload_types == expected


# ------------------------------------------------------------------ cost of pathological input

@pytest.mark.timeout(20)  # a hang guard; how fast it is, is a bench target (bench/pure.py)
@pytest.mark.parametrize("text", [
    "nine " * 4_000,  # a run of number words: rescanned from every word, about a minute
    "evaluating " + " " * 19_000 + "Kafka x",  # a whitespace run before an optional card word
    "We are evaluating" + " " * 40 + "models with Kafka.",  # blanks between a weighing verb and a tool
    "no Kafka, Redis, Flink or " * 800, "HIPAA was raised raised raised " * 700, "£1 per month, roughly $2 " * 900,
])
def test_pathological_inputs_stay_cheap(text: str) -> None:
    assert isinstance(extract(text).constraints, ConstraintSchema)
