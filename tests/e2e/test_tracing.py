"""One decision set, one trace: the platform exports OTLP to an in-test receiver, every agent in its
own process, and the run from the POST to the commit is one tree with correct parent links; a step
redelivered after a crash is a retry inside that tree, not a second one."""

from __future__ import annotations

import threading
import time

import pytest
from flows import FRAUD, follow, is_gate, own_stack, waivers_for

from tests.fakes.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

AGENTS = ("intake", "planner", "critics", "policy", "codegen", "validators")


@pytest.fixture()
def traced_stack(settings, tmp_path):
    """A stack of its own exporting to a receiver; the policy agent dies once right after recording its
    step, and is restarted like a supervisor would."""
    marker = tmp_path / "crashed"
    crash = {"AMP_CRASH_AT": "policy:after_commit", "AMP_CRASH_MARKER": str(marker)}
    stop = threading.Event()
    with OtlpReceiver() as receiver, own_stack(settings, tmp_path, without=("policy",), env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "100"}) as (s, client):

        def supervise() -> None:
            while not stop.wait(0.2):
                proc = s.procs.get("policy-0")
                if proc is not None and proc.poll() is not None:
                    s.spawn_agent("policy-0", crash)

        s.spawn_agent("policy-0", crash)
        threading.Thread(target=supervise, daemon=True).start()
        try:
            yield s, client, receiver, marker
        finally:
            stop.set()


def _wait_for(receiver: OtlpReceiver, trace_id: str, services: set[str], timeout: float = 120.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        spans = receiver.trace(trace_id)
        if services <= {s.service for s in spans}:
            time.sleep(1.0)  # the last batches of every process
            return receiver.trace(trace_id)
        assert time.monotonic() < deadline, f"services in the trace: {sorted({s.service for s in spans})}"
        time.sleep(0.3)


@pytest.mark.timeout(600)
def test_one_run_is_one_trace_across_the_gateway_and_every_agent(traced_stack) -> None:
    stack, client, receiver, marker = traced_stack
    project = client.create_project("traced run")
    ds = client.submit(project["id"], FRAUD)["decision_set_id"]
    gate = follow(client, ds, is_gate, timeout=240)[-1]
    assert gate[0] == "gate-waiting", gate
    assert gate[1]["trace_id"], "the SSE frame carries the trace id"
    client.approve(ds, "approved", "", waivers_for(gate[1]["policy"], "traced", "test"))
    end = follow(client, ds, lambda ev, d: ev == "run-complete", timeout=240)[-1]
    assert end[1]["status"] == "completed"
    assert marker.exists(), "the policy agent crashed once after recording its step"

    trace_id = client.decision_set(ds)["trace_id"]
    events = client.events(ds)
    assert trace_id and {e["trace_id"] for e in events} == {trace_id}, "every event names the run's trace"

    spans = _wait_for(receiver, trace_id, {"amp-gateway", "amp-webhooks", *(f"amp-{a}" for a in AGENTS)})
    by_id = {s.span_id: s for s in spans}
    roots = [s for s in spans if s.parent_id is None]
    assert len(roots) == 1, f"one tree, one root: {[(r.service, r.name) for r in roots]}"
    assert roots[0].service == "amp-gateway" and roots[0].name.startswith("POST ")
    # The killed process never ended (so never exported) the step span it died in: what it had exported
    # before, and the messages it had committed (sent on by an outbox relay), hang from that one lost
    # span. Everything else has its parent in the trace.
    orphans = [s for s in spans if s.parent_id is not None and s.parent_id not in by_id]
    assert len({s.parent_id for s in orphans}) <= 1, [(s.service, s.name) for s in orphans][:10]

    def ancestors(span) -> list:
        out = []
        while span.parent_id is not None:
            span = by_id[span.parent_id]
            out.append(span)
        return out

    steps = {s.attributes.get("amp.node"): s for s in spans if s.attributes.get("amp.service") in AGENTS
             and s.name == f"{s.attributes['amp.service']}.{s.attributes.get('amp.node')}"}
    for node in ("intake_extract", "planner", "critic_tech", "policy_eval", "gate_hitl", "process_approval_feedback",
                 "validators"):
        assert node in steps, f"no step span for {node}: {sorted(steps)}"
    # the chain runs through the bus: the codegen step descends from the approval, the planner from intake
    assert any(a.name == "gateway.approve" for a in ancestors(steps["process_approval_feedback"]))
    assert any(a.name == "gateway.approve" for a in ancestors(steps["validators"]))
    assert any(a.name.startswith("intake.") for a in ancestors(steps["planner"]))
    assert any(s.name.endswith(" process") and s.attributes.get("messaging.system") == "nats" for s in spans)
    # one span per LangGraph node, with the provider that answered
    nodes = [s for s in spans if ".node." in s.name]
    # (not policy: its process was killed before it exported, and the redelivered step replays its record)
    assert {"planner.node.planner", "critics.node.critic_tech", "codegen.node.codegen"} <= {s.name for s in nodes}
    assert all(s.attributes.get("gen_ai.system") for s in nodes)
    assert any(s.service == "amp-planner" and s.name.startswith(("SELECT", "INSERT", "UPDATE", "BEGIN"))
               or s.attributes.get("db.system") == "postgresql" for s in spans), "database spans"

    # the webhooks service records each batch of the run's events in the run's trace, under the
    # step that emitted them (a subscriber, not a step: no trace of its own per fetch)
    records = [s for s in spans if s.service == "amp-webhooks" and s.name == "webhooks.record"]
    assert records and all(s.parent_id is not None for s in records)
    assert any(by_id[s.parent_id].service in {f"amp-{a}" for a in AGENTS} for s in records if s.parent_id in by_id)

    # the crashed policy step: its message came again, as a retry under the same publisher
    consumes = [s for s in spans if s.service == "amp-policy" and s.name.endswith(" process")]
    retries = [s for s in consumes if s.attributes.get("amp.retry") is True]
    assert retries, [(s.name, s.attributes.get("amp.delivery")) for s in consumes]
    assert all(by_id[r.parent_id].service == "amp-critics" for r in retries), "a retry hangs where the first try did"
    assert any(s.attributes.get("amp.replayed") is True for s in spans if s.service == "amp-policy")

    # an idle platform traces nothing: the outbox relays, sweeps and gauges tick every second in
    # every process, none of them starts a trace of its own
    with receiver.lock:
        settled = len(receiver.spans)
    time.sleep(3.0)
    with receiver.lock:
        new_roots = [(s.service, s.name) for s in receiver.spans[settled:] if s.parent_id is None]
    assert new_roots == []
