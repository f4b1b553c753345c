"""Online serving is sized for the API's requests, the stream for its events.

"20,000 transaction events per second through Event Hubs, and the API answers about 2,000 requests
per second" gave one peak rate, 20,000/s, and the API was sized and priced for it: ten times the
replicas and about $39k a month of serving against a $15k budget. Where the text states the API's
requests apart from a larger event rate, they are `request_rps`; serving (and the feature reads it
makes) is sized for them, while the stream keeps the events' rate.
"""

from __future__ import annotations

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.requirements.extraction import extract

from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.critics.tech import critique
from services.planner.planning import compose_plan
from tests.unit.codegen.conftest import inputs_for


@pytest.mark.parametrize(("text", "events", "requests"), [
    ("Fraud scoring on Azure: 20,000 transaction events per second flow in through Event Hubs, and the API "
     "answers about 2,000 requests per second at p95 100 ms.", 20000, 2000),
    ("50k events/s in, 500 QPS on the API, GCP.", 50000, 500),
    ("100k events per second from Kafka; the dashboard API serves 200 per second.", 100000, 200),
    ("30,000 wind turbines each send a reading every 10 seconds, and operators query an API for a turbine's "
     "latest score (about 50 requests per second, p95 under 300 ms).", 3000, 50),
])
def test_the_apis_requests_are_read_apart_from_the_events(text: str, events: float, requests: float) -> None:
    c = extract(text).constraints
    assert c.throughput_rps == events and c.request_rps == requests


@pytest.mark.parametrize("text", [
    "API at 3,000 requests per second on AWS.",                     # one rate: it is the peak
    "A stream of 10,000 events per second on AWS.",
    "5,000 requests per second at peak and 1,000 events per second from Kafka.",  # requests the larger
    # an API alone: its transactions are its requests, whatever the dashboard adds
    "Real-time fraud API on AWS us-east-1 scoring 3,000 card transactions per second at p95 50 ms; the admin "
    "dashboard makes about 10 requests per second.",
    "20,000 events per second peak from Kafka; off-peak 2,000 requests per second on the API.",
])
def test_one_rate_or_more_requests_than_events_sets_no_request_rate(text: str) -> None:
    assert extract(text).constraints.request_rps is None


def test_the_peak_is_the_events_where_the_apis_peak_is_named_apart() -> None:
    c = extract("Clickstream of 30k events/s. Recommendations API at 3k rps peak.").constraints
    assert c.throughput_rps == 30000 and c.request_rps == 3000


def test_a_request_rate_alone_sizes_serving() -> None:
    alone = ConstraintSchema(cloud="aws", workload_types=["online"], request_rps=2000)
    default = ConstraintSchema(cloud="aws", workload_types=["online"])
    tasks = [compose_plan(c).component("serving_online").sizing for c in (alone, default)]
    assert tasks[0]["basis"]["serve_rps"] == 2000 and tasks[1]["basis"]["serve_rps"] == 50


def _online_streaming(cloud: str, requests: float | None) -> ConstraintSchema:
    return ConstraintSchema(cloud=cloud, workload_types=["online", "streaming"], throughput_rps=20000,
                            request_rps=requests, sla_latency_ms=150)


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_serving_is_sized_and_priced_for_the_requests_and_the_stream_for_the_events(cloud: str) -> None:
    def priced(requests: float | None) -> tuple[dict[str, float], dict]:
        c = _online_streaming(cloud, requests)
        plan = compose_plan(c)
        usd: dict[str, float] = {}
        for line in estimate(plan, c).breakdown:
            usd[line.component] = usd.get(line.component, 0.0) + line.usd
        return {comp.capability: usd.get(comp.pattern_id, 0.0) for comp in plan.components}, plan

    one, plan_one = priced(None)
    apart, plan_apart = priced(2000)
    assert plan_one.component("serving_online").pattern_id == plan_apart.component("serving_online").pattern_id
    assert apart["serving_online"] < 0.5 * one["serving_online"]
    for cap in ("ingest_stream", "stream_processing"):
        assert apart[cap] == pytest.approx(one[cap]), cap


def test_the_critic_weighs_serving_against_the_requests() -> None:
    c = _online_streaming("gcp", None)
    plan = compose_plan(c)
    risky = {r.id for r in critique(plan, c)}
    calm = {r.id for r in critique(plan, _online_streaming("gcp", 500))}
    assert {"quota_high_rps:serving_online", "quota_concurrency:serving_online"} <= risky
    assert not calm & {"quota_high_rps:serving_online", "quota_concurrency:serving_online"}
    # The stream still carries every event: its risks stay.
    stream = {r for r in risky if r.endswith(":stream_processing")}
    assert stream and stream <= calm


def test_the_estimate_says_what_serving_was_priced_for() -> None:
    c = _online_streaming("aws", 2000)
    notes = [a for a in estimate(compose_plan(c), c).assumptions if "online serving priced" in a]
    assert notes and "2000 requests/s" in notes[0] and "20000/s of events" in notes[0]
    c = _online_streaming("aws", None)
    assert not [a for a in estimate(compose_plan(c), c).assumptions if "online serving priced" in a]


def test_the_generated_load_test_and_traffic_alarm_use_the_apis_rate() -> None:
    c = _online_streaming("aws", 2000)
    plan = compose_plan(c)
    files = render_repository(plan, c, *inputs_for(plan), "Acme fraud", "")
    workflows = "".join(text for path, text in files.items() if path.startswith(".github/workflows/"))
    assert "LOAD_TEST_RPS || '2000'" in workflows and "LOAD_TEST_RPS || '20000'" not in workflows
    assert "stated rate 2000 requests/s" in files["docs/runbook.md"]
