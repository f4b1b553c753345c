"""Focused tests of the extraction grammars: units, magnitudes, negation, gazetteer."""

from __future__ import annotations

import pytest
from amp_domain.requirements.extract_numbers import parse_amount, parse_number
from amp_domain.requirements.extraction import extract


def c(text: str):
    return extract(text).constraints


# ------------------------------------------------------------------ numbers

@pytest.mark.parametrize("raw,suffix,money,expected", [
    ("2,500", None, False, 2500), ("1,5", "k", False, 1500), ("4.000", None, True, 4000),
    ("1.2", "M", True, 1_200_000), ("99.999", None, False, 99.999), ("1.234,56", None, True, 1234.56),
    ("1,234.56", None, False, 1234.56), ("10 000", None, False, 10000), ("12", "thousand", False, 12000),
])
def test_number_formats(raw: str, suffix: str | None, money: bool, expected: float) -> None:
    assert parse_amount(raw, suffix, dot_thousands=money) == pytest.approx(expected)


def test_parse_number_rejects_non_numbers() -> None:
    assert parse_number("") is None
    assert parse_number("abc") is None


# ------------------------------------------------------------------ budget

@pytest.mark.parametrize("text,expected", [
    ("Budget is $6k/month.", 6000), ("Keep it under $800 per month.", 800),
    ("Budget around 1.5k USD monthly.", 1500), ("Budget: $20,000 a month.", 20000),
    ("Budget 4k/mo.", 4000), ("about 2500 dollars per month", 2500), ("€4.000 per month budget", 4000),
    ("We can spend 1,5k€ monthly.", 1500), ("Budget of $1.2M/yr.", 100_000), ("Annual budget of $60,000.", 5000),
    ("$36k per year is the budget", 3000), ("Budget: between $5k and $8k a month.", 8000),
    ("A budget of $500 per week.", 500 * 52 / 12), ("Budget is $4k", 4000),
    ("Budget under 1 lakh INR monthly.", 100_000), ("budget 2.4 crore rupees per year", 2_000_000),
    ("We have $50k for the year.", 50_000 / 12), ("Budget: $50k for the whole year.", 50_000 / 12),
    ("$60,000 this year to spend on cloud.", 5000),
])
def test_budget_grammar(text: str, expected: float) -> None:
    assert c(text).budget_monthly_usd == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("text", [
    "Budget is not a concern.", "We have $100k in AWS credits.", "It costs $0.02 per prediction.",
    "The latency budget is 200 ms.", "Fraud losses were $2M last year.",
])
def test_not_a_budget(text: str) -> None:
    assert c(text).budget_monthly_usd is None


@pytest.mark.parametrize("text,expected", [
    # a USD figure given beside a foreign amount is the budget, over the foreign amount's period
    ("Budget is £8k pcm, roughly $10,000.", 10000), ("Budget: CHF 27,000 per quarter (≈ USD 30,000).", 10000),
    ("Budget: EUR 96,000 per annum, which our finance team puts at USD 104,000.", 104000 / 12),
    ("Budget: 4.500 € monthly, i.e. around 4.900 USD.", 4900),
    ("Budget €12,000 per year (about $1,100 a month).", 1100),  # the USD figure's own period wins
    # a foreign amount alone stays at face value; a dollar figure that is not its equivalent is ignored
    ("Budget €4,000 a month.", 4000), ("Budget €4,000 a month, plus $500 of credits.", 4000),
    ("Budget €5,000 a month; we currently spend $3,000.", 5000),
    ("Budget £8k a month. Roughly $10,000 goes to GPUs.", 8000),
    ("Budget $5,000 a month (about €4,600).", 5000),
])
def test_usd_beside_a_foreign_budget(text: str, expected: float) -> None:
    assert c(text).budget_monthly_usd == pytest.approx(expected, rel=1e-3)


# ------------------------------------------------------------------ latency, availability

@pytest.mark.parametrize("text,expected", [
    ("p95 latency must stay under 80 ms", 80), ("answer within 50ms p95", 50), ("p99 under 30 ms", 30),
    ("alerting within 1 second", 1000), ("decisions within 2 s", 2000), ("it can take up to 2 seconds per study", 2000),
    ("a 1 second budget per quote", 1000), ("p50 20 ms, p95 120 ms", 120), ("sub-100ms responses", 100),
    # a percentile after a figure is that figure's only within its clause: the median here is 50 ms
    ("Tail latency (p99) must not exceed 0.5s; median around 50ms.", 500),
    ("Scoring should never exceed 2 seconds.", 2000),
    ("Inference must finish within 800 µs at the 99th percentile.", 0.8), ("p99 under 500 microseconds", 0.5),
])
def test_latency_grammar(text: str, expected: float) -> None:
    assert c(text).sla_latency_ms == pytest.approx(expected)


@pytest.mark.parametrize("text", ["Dashboard refreshed every 15 minutes.", "Use 5-second tumbling windows.",
                                  "Cold starts of 3 s are unacceptable."])
def test_not_a_latency(text: str) -> None:
    assert c(text).sla_latency_ms is None


@pytest.mark.parametrize("text,expected", [
    ("99.95% availability", 99.95), ("Three nines availability.", 99.9), ("four nines", 99.99),
    ("five nines of uptime", 99.999), ("three and a half nines", 99.95), ("Availability 99.9%.", 99.9),
    ("uptime SLA of 99.5 percent", 99.5), ("Ireland and Frankfurt active-active, 99.99 SLA.", 99.99),
    ("a 99.95 uptime SLA", 99.95), ("SLO: 99.5", 99.5), ("Five 9s.", 99.999), ("Four 9's of uptime.", 99.99),
    # a downtime allowance: the standard target whose allowance it rounds, else the exact share
    ("The business accepts no more than about 43 minutes of downtime per month.", 99.9),
    ("Downtime under 5 minutes a year.", 99.999), ("Downtime budget of 52 minutes per year.", 99.99),
    ("No more than 1 day of downtime per month.", 96.7146),
    ("99.95% availability, i.e. 22 minutes of downtime a month.", 99.95),
])
def test_availability_grammar(text: str, expected: float) -> None:
    assert c(text).availability_target == pytest.approx(expected)


def test_accuracy_percent_is_not_availability() -> None:
    assert c("The model needs 99% accuracy and high availability.").availability_target is None
    assert c("The job takes 43 minutes per month.").availability_target is None


# ------------------------------------------------------------------ throughput

@pytest.mark.parametrize("text,expected", [
    ("3,000 requests per second", 3000), ("10k rps", 10000), ("1.2k QPS", 1200), ("25k requests/s at peak", 25000),
    ("800 events/sec", 800), ("5k msgs/sec", 5000), ("~300 per second", 300),
    ("12,000 requests per minute", 200), ("20 events per second per camera x 500 cameras", 10_000),
    ("500 cameras, each sending 20 frames per second", 10_000),
    ("Each camera sends 20 fps and we have 500 cameras.", 10_000),
    ("Average 200 rps, peaks of 1,000 rps.", 1000),
    ("at most two thousand transactions per second", 2000), ("twenty-five thousand events per second at peak", 25000),
    ("a thousand requests a second", 1000), ("one reading per minute from each of 12,000 meters", 200),
    # a rate that ends "each" is per unit of the count before it, in the same sentence
    ("12 cameras at 30 frames per second each", 360), ("500 cameras stream video, 4 frames per second each.", 2000),
    ("4 GPUs at 25 inferences/s apiece", 100),
    # a fleet that sends something at an interval: one per device per interval
    ("2,000 smart meters push a reading every 30 seconds", 66.667),
    ("5,000 delivery vans report their GPS position every 5 seconds", 1000),
    # a bare hourly rate, its traffic named just before it
    ("events at 2 million per hour", 555.556), ("orders: 50k/h", 13.889),
    # a peak stated as a multiple of the rate before it
    ("We score 500 transactions per second on average, with peaks at 5x.", 2500),
    ("200 rps normally, 3x that at peak", 600), ("300 rps; we expect 2x growth next year", 300),
])
def test_throughput_grammar(text: str, expected: float) -> None:
    assert c(text).throughput_rps == pytest.approx(expected)


@pytest.mark.parametrize("text,expected", [
    # the peak is the rate the peak word goes with, even when it comes after the figure or an aside follows
    ("12k QPS during the evening peak (daytime is around 3k QPS).", 12000),
    ("3k QPS off-peak, 12k QPS at peak.", 12000), ("Ranking API, 90k RPM peak.", 1500),
    ("Turbines spin at 1,800 RPM; 500 turbines send 2 readings per second each.", 1000),  # revolutions
    # an interval per device multiplies out by the devices counted before it
    ("GPS pings from 1,500 buses, each every 10 seconds.", 150),
    ("1,200 beds, one reading every 5 seconds each.", 240),
    ("400,000 devices, each reporting every 5 minutes over MQTT.", 1333.333),
    # a daily count is a rate when its peak is given as a multiple of it
    ("We receive 8.64 million events per day, and the peak rate is three times the daily average.", 300),
    ("We get 1 million orders a day, and peaks are twice the average.", 23.148),
])
def test_peaks_and_intervals_per_device(text: str, expected: float) -> None:
    assert c(text).throughput_rps == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("text", [
    "A reading every 5 seconds is stored.", "We process 8.64 million events per day in a nightly batch.",
    "We run 3 jobs per day, peak is 2x.",
])
def test_intervals_and_daily_counts_alone_are_not_rates(text: str) -> None:
    assert c(text).throughput_rps is None


def test_a_reporting_interval_is_not_a_schedule() -> None:
    assert "batch" not in c("400,000 devices, each reporting every 5 minutes over MQTT.").workload_types
    assert "batch" in c("Features are refreshed every 15 minutes.").workload_types


def test_daily_batch_volume_does_not_set_throughput() -> None:
    assert c("We process 200k PDFs per day in batches.").throughput_rps is None


@pytest.mark.parametrize("text", [
    "Our 12 engineers want a dashboard refreshed every 15 minutes.",  # nobody sends anything
    "Backups of 20 databases take a snapshot every 30 minutes.",  # a schedule
    "We retrain 3 models every 30 minutes.",
    "Retraining runs at 3 per hour.",
])
def test_an_interval_without_senders_is_not_traffic(text: str) -> None:
    assert c(text).throughput_rps is None


# ------------------------------------------------------------------ workloads, deployment, negation

def test_workload_types() -> None:
    assert c("Nightly batch scoring. No real-time needs.").workload_types == ["batch"]
    assert c("A recommendation engine on Azure; traffic ~ 300 req/s.").workload_types == ["online"]
    assert set(c("Clickstream events in real time plus an online endpoint.").workload_types) == {"streaming", "online"}
    assert c("Real-time personalization at 25k requests/s.").workload_types == ["online"]
    assert c("Score leads every hour.").workload_types == ["batch"]
    assert c("Tokens stream back to the chat UI; answers start within 2 s.").workload_types == ["online"]


@pytest.mark.parametrize("text,expected", [
    # "every" + an item is each item, not a schedule; + a unit of time or a weekday is a schedule
    ("Score every transaction in real time behind an API.", ["online"]),
    ("We score every loan application as it is submitted via our API.", ["online"]),
    ("Retrain the model every Monday.", ["batch"]),
    ("Refresh the features every 6 hours.", ["batch"]),
    ("Recompute the scores every other day.", ["batch"]),
    # "streaming" naming the business's product is not event processing; its data arriving as a stream is
    ("Recommendations behind an API for our streaming video app.", ["online"]),
    ("A music streaming service with 5M listeners wants playlist recommendations via an API.", ["online"]),
    ("Video streaming company: nightly batch churn scoring.", ["batch"]),
    ("Video streaming platform: playback events arrive via Kafka and are scored continuously.", ["streaming"]),
    ("500 cameras stream video, 4 frames per second each.", ["streaming"]),
    # a fleet sending what it measures at a rate of seconds or minutes is a stream of events
    ("Anomaly detection over telemetry from 40,000 IoT sensors each sending one reading every 10 seconds.",
     ["streaming"]),
    ("5,000 delivery vans report their GPS position every 5 seconds.", ["streaming"]),
    ("Vehicles report their location every minute and we need an API to query ETAs.", ["streaming", "online"]),
    ("Our machines report errors in a weekly summary.", []),
    ("Cameras send images nightly in a batch for scoring.", ["batch"]),
    ("Inventory forecasts per SKU refreshed twice a day; no latency requirement.", ["batch"]),
    ("Scores are recomputed 3 times a week.", ["batch"]),
    ("Predict machine failures from sensor logs uploaded hourly as CSV to blob storage.", ["batch"]),
    ("A partner feed is delivered nightly to S3.", ["batch"]),
    ("Vibration data arrives in real time over MQTT from 300 turbines; alert within 2 seconds.", ["streaming"]),
    ("Orders come in real time and must be scored.", ["streaming"]),
    # a streaming business is not a stream to process; a service that consumes one is
    ("Subscription churn scoring for a streaming service. Daily batch on GCP.", ["batch"]),
    ("We need a streaming service that consumes Kafka events.", ["streaming"]),
    ("Forecasts refreshed each night.", ["batch"]), ("We get 10 million events each day via API.", ["online"]),
    ("Call summaries are produced continuously as calls end, each within 60 seconds.", ["streaming"]),
])
def test_workload_cues_that_name_items_or_products(text: str, expected: list[str]) -> None:
    assert c(text).workload_types == expected


@pytest.mark.parametrize("text,workloads,scoring", [
    # a bare schedule word next to a training word schedules training, not predictions
    ("Nightly retrain, online ranking API at p95 50ms.", ["batch", "online"], False),
    ("A retraining run overnight, predictions served online.", ["batch", "online"], False),
    ("Nightly batch scoring and weekly retraining.", ["batch"], True),
    ("Weekly training and nightly scoring of all leads.", ["batch"], True),
    ("Overnight we score every account.", ["batch"], True),
    # click data kept at rest is training data; arriving live it is a stream
    ("Nightly retrain on 500GB clickstream logs in BigQuery, online ranking API at p95 50ms.", ["batch", "online"],
     False),
    ("Clickstream logs arrive via Kafka.", ["streaming"], None),
    ("We ingest clickstream logs in real time.", ["streaming"], None),
])
def test_batch_scoring_and_click_data(text: str, workloads: list[str], scoring: bool | None) -> None:
    got = c(text)
    assert (got.workload_types, got.batch_scoring) == (workloads, scoring)


@pytest.mark.parametrize("text,expected", [
    ("Serverless is not an option because of cold starts.", "containers"),
    ("No serverless.", "containers"), ("We don't want to run clusters.", "serverless"),
    ("Serverless preferred.", "serverless"), ("We run everything on Kubernetes (EKS).", "containers"),
    ("No Kubernetes please.", "serverless"), ("Prefer Azure Functions.", "serverless"),
])
def test_deployment_preference(text: str, expected: str) -> None:
    assert c(text).deployment_pref == expected


@pytest.mark.parametrize("text,expected", [
    ("No PII, the images are public datasets.", "public"), ("Customer emails and names are in the data.", "pii"),
    ("The data is cardholder data.", "pci"), ("Claims data (PHI).", "phi"), ("Medical records are processed.", "phi"),
    ("Confidential legal documents.", "confidential"), ("Internal data only.", "internal"),
    ("Aggregated, non-personal data (internal).", "internal"), ("PII and PHI both.", "phi"),
    ("Customer data includes emails.", "pii"), ("Records include full names and dates of birth.", "pii"),
    ("The data includes column names and types.", None), ("The logs have file names.", None),
    ("FedRAMP High, CUI data.", "confidential"), ("It holds controlled unclassified information.", "confidential"),
    # people's identifiers and pay; named content said to be public; internal sources "only"
    ("Applicants' ID numbers and salaries are in the data.", "pii"), ("Order ID numbers are in the data.", None),
    ("Product photos are public.", "public"), ("The API is public.", None), ("Our endpoints are public-facing.", None),
    ("Internal knowledge base only.", "internal"), ("Internal wiki only.", "internal"),
])
def test_data_classification(text: str, expected: str | None) -> None:
    assert c(text).data_classification == expected


def test_no_pii_sets_nothing() -> None:
    assert c("There is no PII in this dataset.").data_classification is None


def test_compliance_aliases_and_negation() -> None:
    got = c("PCI DSS, SOC 2 Type II, ISO/IEC 27001 and GDPR apply; HIPAA does not apply.").compliance
    assert got == ["pci_dss", "soc2", "iso27001", "gdpr"]


@pytest.mark.parametrize("text,compliance,data_class", [
    # a regime the text puts out of scope is denied, with the data class it would imply
    ("Card numbers never reach us, Stripe tokenizes them, so we are out of PCI scope.", [], None),
    ("We are out of PCI DSS scope.", [], None), ("We are outside the scope of PCI DSS.", [], None),
    ("Our data is out of scope for HIPAA.", [], None),
    ("We are in scope for PCI DSS.", ["pci_dss"], "pci"),
    ("PCI DSS scope applies to the payment service.", ["pci_dss"], "pci"),
])
def test_out_of_scope_regimes(text: str, compliance: list[str], data_class: str | None) -> None:
    got = c(text)
    assert (got.compliance, got.data_classification) == (compliance, data_class)


def test_languages_and_stack() -> None:
    got = c("Team: Python, Go and R. We use EKS, Pub/Sub, Prometheus/Grafana, Vertex AI and GitHub Actions.")
    assert got.team_languages == ["python", "go", "r"]
    assert got.existing_stack == ["kubernetes", "pubsub", "prometheus", "grafana", "vertex-ai", "github-actions"]
    assert c("Go with whatever is cheapest.").team_languages == []
    assert c("Our backend is Golang; data science in Python.").team_languages == ["go", "python"]
    assert c("We don't use Kafka; Kinesis is fine.").existing_stack == ["kinesis"]


@pytest.mark.parametrize("text,stack", [
    # the tools moved to are the stack; the tools moved away from are not
    ("We migrated from Datadog to Prometheus and Grafana last quarter, and from Jenkins to GitHub Actions.",
     ["prometheus", "grafana", "github-actions"]),
    ("We are moving from Kafka to Kinesis.", ["kinesis"]), ("We are migrating away from Jenkins.", []),
    ("We migrated to GitHub Actions.", ["github-actions"]),
    ("We migrated to Kubernetes and read events from Kafka.", ["kubernetes", "kafka"]),
])
def test_migrated_tools(text: str, stack: list[str]) -> None:
    assert c(text).existing_stack == stack


@pytest.mark.parametrize("text,cloud", [
    ("We moved off Azure onto GCP.", "gcp"), ("We moved from Azure to GCP.", "gcp"),
    ("We are migrating from AWS.", None),
])
def test_a_moves_destination_is_not_its_source(text: str, cloud: str | None) -> None:
    assert c(text).cloud == cloud


def test_extra_fields() -> None:
    got = c("Retrain weekly on GPUs with 2 TB of history; serve on CPU.")
    assert (got.training_cadence, got.gpu, got.data_volume_gb) == ("weekly", True, 2000)
    assert c("Batch training nightly.").training_cadence == "daily"
    assert c("No GPUs needed.").gpu is False


@pytest.mark.parametrize("text,expected", [
    ("Scores computed daily and the model retrained weekly.", "weekly"),
    # a cadence rarer than the schema holds is left unset, not taken from what else the sentence schedules
    ("Credit scoring model retrained quarterly, scores computed once a day for all customers.", None),
    ("Retrain every 6 months; scoring runs nightly.", None),
    ("The model is refit once a year, and reports go out daily.", None),
])
def test_training_cadence_is_the_trainings_own(text: str, expected: str | None) -> None:
    assert c(text).training_cadence == expected


# ------------------------------------------------------------------ cloud and regions

@pytest.mark.parametrize("text,cloud,regions", [
    ("Azure, Frankfurt.", "azure", ["germanywestcentral"]), ("AWS in Frankfurt.", "aws", ["eu-central-1"]),
    ("GCP in Frankfurt.", "gcp", ["europe-west3"]), ("Stay in the UK: AWS London region.", "aws", ["eu-west-2"]),
    ("Azure, West Europe region.", "azure", ["westeurope"]), ("Azure North Europe.", "azure", ["northeurope"]),
    ("Azure East US 2.", "azure", ["eastus2"]), ("europe-west4 please", "gcp", ["europe-west4"]),
    ("us-east-1 and us-west-2", "aws", ["us-east-1", "us-west-2"]), ("Tokyo on GCP.", "gcp", ["asia-northeast1"]),
    ("We use BigQuery.", "gcp", []), ("Data comes through Kinesis into SageMaker.", "aws", []),
    ("Whatever cloud is cheapest is fine but we have AWS credits.", "aws", []),
    ("Not on GCP; AWS us-east-1.", "aws", ["us-east-1"]), ("AWS or GCP, undecided.", None, []),
    ("Any EU region is fine on GCP.", "gcp", []), ("AWS. CCPA applies for California users.", "aws", []),
    ("AWS GovCloud is not needed; us-east-1 is fine.", "aws", ["us-east-1"]),
    # a managed service named in full says its cloud as its short name does
    ("We run on Google Kubernetes Engine.", "gcp", []), ("Deploy to Amazon Elastic Kubernetes Service.", "aws", []),
])
def test_cloud_and_regions(text: str, cloud: str | None, regions: list[str]) -> None:
    got = c(text)
    assert (got.cloud, got.regions) == (cloud, regions)


def test_spans_point_at_source_text() -> None:
    text = "Fraud API on AWS in eu-west-1, p95 under 80 ms, budget $6k/month."
    for span in extract(text).spans:
        assert text[span.start:span.end] == span.text
    fields = {s.field for s in extract(text).spans}
    assert {"cloud", "regions", "sla_latency_ms", "budget_monthly_usd"} <= fields


def test_batch_scoring_is_told_apart_from_retraining():
    from amp_domain.requirements.extraction import extract

    api = extract("Fraud scoring API on AWS eu-west-1, p95 under 80 ms. Retrain weekly.").constraints
    assert set(api.workload_types) == {"online", "batch"} and api.batch_scoring is False
    both = extract("Online API plus nightly batch scoring of every account; retrain weekly.").constraints
    assert both.batch_scoring is True
    assert extract("A low-latency API on GCP.").constraints.batch_scoring is None
