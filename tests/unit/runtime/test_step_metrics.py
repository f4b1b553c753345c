"""The metrics read from a step's events, and the status view's list of durable consumers."""

from __future__ import annotations

from amp_contracts import AGENTS, Event, steps_of
from amp_runtime import metrics
from amp_runtime.agent import durable_name
from amp_runtime.status import durables
from prometheus_client import REGISTRY


def _ev(type_: str, node: str, data: dict) -> Event:
    return Event(type=type_, project_id="p", decision_set_id="d", run_id="r", node_name=node, data=data)


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_outcomes_are_read_from_the_events_a_step_recorded() -> None:
    fail0 = _value("amp_policy_outcomes_total", outcome="fail")
    tool0 = _value("amp_validation_outcomes_total", tool="ruff", status="pass")
    done0 = _value("amp_runs_ended_total", status="completed")
    delta0 = _value("amp_cost_delta_usd_count")
    metrics.observe_events([
        _ev("policy-update", "policy_eval", {"overall": "fail"}),
        _ev("cost-update", "critic_cost", {"monthly_usd": 4200.0, "delta_vs_prev_usd": -300.0}),
        _ev("reason-card", "validators", {"details": {"tools": [{"tool": "ruff", "status": "pass"}]}}),
        _ev("reason-card", "planner", {"details": {"tools": [{"tool": "ruff", "status": "pass"}]}}),
        _ev("run-complete", "diff_and_persist", {"status": "completed"}),
    ])
    assert _value("amp_policy_outcomes_total", outcome="fail") == fail0 + 1
    assert _value("amp_validation_outcomes_total", tool="ruff", status="pass") == tool0 + 1  # the validators' card only
    assert _value("amp_runs_ended_total", status="completed") == done0 + 1
    assert _value("amp_cost_delta_usd_count") == delta0 + 1


def test_a_first_version_without_a_delta_records_no_delta() -> None:
    delta0 = _value("amp_cost_delta_usd_count")
    metrics.observe_events([_ev("cost-update", "critic_cost", {"monthly_usd": 10.0, "delta_vs_prev_usd": None})])
    assert _value("amp_cost_delta_usd_count") == delta0


def test_status_knows_every_durable_the_services_create() -> None:
    from services.webhooks.app import DURABLE

    listed = durables()
    for agent in AGENTS:
        assert set(listed[agent]) == {durable_name(agent, s.subject) for s in steps_of(agent)}
    assert listed["webhooks"] == (DURABLE,)
