"""The platform's Prometheus metrics, defined once; every service exposes them at `/metrics`.

Each process counts what it did itself (steps, retries, dead letters, model calls), so a sum
over replicas is the platform's total. What the bus knows better than any one process (consumer
lag) is read from JetStream by `refresh_bus_gauges`; the dead-letter backlog from its table. docs/observability.md
explains each metric; deploy/observability/ holds the dashboard and alert rules built on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_LONG = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600, 7 * 24 * 3600)

STEP_SECONDS = Histogram("amp_step_duration_seconds", "Wall time of one step (delivery to ack), per node.",
                         ["service", "node"], buckets=_LATENCY)
STEPS = Counter("amp_steps_total", "Deliveries handled, by outcome: ok (ran and recorded), replayed (recorded "
                "before, re-published), retried (failed, redelivered later), dead_lettered, paused (budget).",
                ["service", "node", "outcome"])
RETRIES = Counter("amp_step_retries_total", "Failed deliveries handed back for redelivery.", ["service", "node"])
DEAD_LETTERS = Counter("amp_dead_letters_total", "Messages parked on a dead-letter subject, by error code.",
                       ["service", "code"])
CONSUMER_PENDING = Gauge("amp_consumer_pending_messages", "Messages of a durable consumer not yet delivered (lag).",
                         ["durable"])
CONSUMER_ACK_PENDING = Gauge("amp_consumer_ack_pending_messages", "Messages delivered and not yet acked.", ["durable"])
CONSUMER_REDELIVERED = Gauge("amp_consumer_redelivered_messages", "Messages delivered more than once and unacked.",
                             ["durable"])
DLQ_MESSAGES = Gauge("amp_dlq_messages", "Dead letters not yet replayed, per service (`amp dlq`).", ["service"])
TIME_TO_ARTIFACT = Histogram("amp_time_to_artifact_seconds", "From a version's creation to its generated repository "
                             "(gate waiting included).", buckets=_LONG)
RUNS_ENDED = Counter("amp_runs_ended_total", "Versions that ended, by final status.", ["status"])
GATE_WAIT = Histogram("amp_gate_wait_seconds", "How long a gate waited for its decision.", ["gate"], buckets=_LONG)
GATE_OLDEST = Gauge("amp_gate_oldest_waiting_seconds", "Age of the oldest gate still waiting (0: none).")
GATES_REMINDED = Gauge("amp_gates_reminded_waiting", "Gates still waiting after their reminder was sent.")
LLM_CALLS = Counter("amp_llm_calls_total", "Model calls, by node and model.", ["service", "node", "provider", "model"])
LLM_TOKENS = Counter("amp_llm_tokens_total", "Tokens of model calls, by kind (input, output, cache_read, cache_write).",
                     ["service", "node", "model", "kind"])
LLM_USD = Counter("amp_llm_cost_usd_total", "USD spent on model calls.", ["service", "node", "model"])
LLM_ERRORS = Counter("amp_llm_errors_total", "Model calls that failed, by the kind of failure (rate_limit, "
                     "overloaded, server, timeout, connection, breaker_open ...).", ["provider", "model", "code"])
BREAKER_OPEN = Gauge("amp_llm_breaker_open", "1 while the circuit breaker of a provider and model is open.",
                     ["provider", "model"])
BUDGET_CHECKS = Counter("amp_budget_checks_total", "LLM budget checks before a model call, by level "
                        "(unlimited, ok, warn: past 80 %, exceeded).", ["level"])
BUDGET_PAUSES = Counter("amp_budget_pauses_total", "Runs paused at the budget gate.", ["service"])
POLICY_OUTCOMES = Counter("amp_policy_outcomes_total", "Policy evaluations, by overall outcome.", ["outcome"])
VALIDATION_OUTCOMES = Counter("amp_validation_outcomes_total", "Validation tool results, by tool and status.",
                              ["tool", "status"])
COST_MONTHLY = Histogram("amp_cost_monthly_usd", "Estimated monthly cost of each costed plan.",
                         buckets=(100, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000))
COST_DELTA = Histogram("amp_cost_delta_usd", "Change of the monthly estimate against the previous version.",
                       buckets=(-10_000, -1000, -100, -10, 0, 10, 100, 1000, 10_000))
SSE_OPEN = Gauge("amp_sse_streams_open", "SSE responses being streamed by this gateway.")
SSE_STREAMS = Counter("amp_sse_streams_total", "SSE responses started.")
SSE_DISCONNECTS = Counter("amp_sse_disconnects_total", "SSE responses the client closed before the run ended.")

STEP_OUTCOMES = ("ok", "replayed", "retried", "dead_lettered", "paused")


def observe_usage(service: str, records: Iterable[Any]) -> None:
    """The model calls a step made (its call context's accounting records)."""
    for r in records:
        model = r.info.model or ""
        LLM_CALLS.labels(service, r.node, r.info.provider, model).inc()
        for kind in ("input", "output", "cache_read", "cache_write"):
            n = getattr(r.info, f"{kind}_tokens")
            if n:
                LLM_TOKENS.labels(service, r.node, model, kind).inc(n)
        if r.usd:
            LLM_USD.labels(service, r.node, model).inc(r.usd)


def observe_events(events: Iterable[Any]) -> None:
    """Outcomes a step recorded, read from its events: policy, validation, cost, the end of a run."""
    for ev in events:
        data = ev.data or {}
        if ev.type == "policy-update" and data.get("overall"):
            POLICY_OUTCOMES.labels(str(data["overall"])).inc()
        elif ev.type == "cost-update":
            if isinstance(data.get("monthly_usd"), int | float):
                COST_MONTHLY.observe(data["monthly_usd"])
            if isinstance(data.get("delta_vs_prev_usd"), int | float):
                COST_DELTA.observe(data["delta_vs_prev_usd"])
        elif ev.type == "reason-card" and ev.node_name == "validators":
            for tool in (data.get("details") or {}).get("tools") or []:
                VALIDATION_OUTCOMES.labels(str(tool.get("tool")), str(tool.get("status"))).inc()
        elif ev.type == "run-complete" and data.get("status"):
            RUNS_ENDED.labels(str(data["status"])).inc()


async def refresh_bus_gauges(js: Any, stream: str, durables: Iterable[str]) -> dict[str, dict[str, int]]:
    """Read each durable consumer's state from JetStream into the gauges; returns it for `/status`."""
    out: dict[str, dict[str, int]] = {}
    for durable in durables:
        try:
            info = await js.consumer_info(stream, durable)
        except Exception:  # noqa: BLE001 - a consumer not created yet (its service never started) has no state
            continue
        state = {"pending": int(info.num_pending or 0), "ack_pending": int(info.num_ack_pending or 0),
                 "redelivered": int(info.num_redelivered or 0), "waiting": int(info.num_waiting or 0)}
        CONSUMER_PENDING.labels(durable).set(state["pending"])
        CONSUMER_ACK_PENDING.labels(durable).set(state["ack_pending"])
        CONSUMER_REDELIVERED.labels(durable).set(state["redelivered"])
        out[durable] = state
    return out


def set_dead_letters(counts: dict[str, int], services: list[str]) -> None:
    """The dead-letter backlog per service into its gauge (0 for a service with none)."""
    for service in services:
        DLQ_MESSAGES.labels(service).set(counts.get(service, 0))
