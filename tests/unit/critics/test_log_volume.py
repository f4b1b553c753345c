"""Logs are priced for what writes them: a line per API request, a few per stream batch.

Log ingestion was priced at 100 bytes for every event whatever ran: a Stream Analytics job
reading 3,000 card transactions a second, which logs nothing per event, carried 281 GB of Log
Analytics ingestion and 141 GB of audit logs, some $1,090 of a $1,454 estimate. An API still logs
each request; a stream consumer logs per batch or delivery, unless it is itself called per event
(a Cloud Run push consumer, whose request logs its own bill of materials carries).
"""

from __future__ import annotations

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.assessment import sizing_inputs

from services.critics.cost import estimate
from services.planner.planning import compose_plan

RATE = 3000


def _log_gb(workloads: tuple[str, ...], **kw: object) -> float:
    return sizing_inputs(ConstraintSchema(throughput_rps=RATE, **kw), workloads)["log_gb"]


def test_an_api_logs_each_request_and_a_stream_each_batch() -> None:
    env = sizing_inputs(ConstraintSchema(throughput_rps=RATE), ("online",))
    api, stream, batch = _log_gb(("online",)), _log_gb(("streaming",)), _log_gb(("batch",))
    assert api == pytest.approx(5 + env["mreq"] * 0.1)
    assert stream == pytest.approx(5 + env["mreq"] * 0.005)
    assert batch == 5 and batch < stream < api / 10


def test_an_api_beside_a_stream_logs_its_own_requests() -> None:
    both = sizing_inputs(ConstraintSchema(throughput_rps=RATE, request_rps=300), ("online", "streaming"))
    assert both["log_gb"] == pytest.approx(5 + both["serve_mreq"] * 0.1 + both["mreq"] * 0.005)
    assert both["serve_mreq"] == pytest.approx(both["mreq"] / 10)


def _logs_usd(c: ConstraintSchema) -> float:
    cost = estimate(compose_plan(c), c)
    return sum(item.usd for item in cost.breakdown if "log" in item.qty.lower())


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_a_stream_of_events_is_not_billed_an_api_s_logs(cloud: str) -> None:
    stream = ConstraintSchema(cloud=cloud, workload_types=["streaming"], throughput_rps=RATE)
    api = ConstraintSchema(cloud=cloud, workload_types=["online"], throughput_rps=RATE)
    assert _logs_usd(stream) < _logs_usd(api) / 5


def test_a_push_consumer_pays_for_the_request_log_of_each_event() -> None:
    c = ConstraintSchema(cloud="gcp", workload_types=["streaming"], throughput_rps=RATE)
    plan = compose_plan(c)
    assert plan.component("stream_processing").pattern_id == "gcp:stream_processing:cloud-run-consumer"
    lines = [i for i in estimate(plan, c).breakdown
             if i.component == "gcp:stream_processing:cloud-run-consumer" and "logs" in i.qty]
    mreq = sizing_inputs(c, ("streaming",))["mreq"]
    assert len(lines) == 1 and lines[0].qty.endswith(f"({mreq * 0.1:,.0f} GB)")
