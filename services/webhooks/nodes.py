"""What the platform's events mean to a webhook receiver, and what an attempt's answer means for the next one.

Pure functions of their inputs (no I/O): the bus handler and the sender call them.

    event on amp.events.<ds>                    webhook event       status in data
    policy-update                           ──▶ plan.ready          planning (the gate opens next)
    gate-waiting {gate: intake|pre-codegen} ──▶ gate.waiting        waiting_intake | waiting_approval
    gate-waiting {gate: budget}             ──▶ budget.paused       paused_budget
    gate-waiting {gate: error}              ──▶ (none: a stopped run; its run-error is the run.error)
    gate-reminder                           ──▶ gate.reminder       waiting_approval
    gate-stale                              ──▶ gate.expired        stale
    run-error                               ──▶ run.error           failed | stalled (the run stopped, resumable)
    run-complete                            ──▶ run.complete        completed | rejected | superseded | stale | failed
    (LLM spend ≥ 80 % of the budget)        ──▶ budget.warning      the decision set's status
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from amp_contracts import (
    BudgetSummary,
    CostSummary,
    Event,
    PolicySummary,
    WebhookData,
    WebhookLinks,
    WebhookPayload,
)
from amp_domain.webhooks import next_delay

#: Namespace of webhook-ids: the same platform event is the same webhook message for every replica.
_IDS = uuid.UUID("2b0c7a1e-6a57-4d0e-9a57-6b1f0e3f4c21")

MAX_RESPONSE_CHARS = 512


def webhook_types(ev: Event) -> list[str]:
    """The webhook event types a platform event stands for (most stand for none)."""
    if ev.type == "policy-update":
        return ["plan.ready"]
    if ev.type == "gate-waiting":
        gate = ev.data.get("gate")
        if gate == "budget":
            return ["budget.paused"]
        # a run stopped on an error (`stalled`) waits on no person's decision: the run-error that comes
        # with it is its webhook. Only the gates a person answers are gate.waiting.
        return ["gate.waiting"] if gate in ("intake", "pre-codegen") else []
    return {"gate-reminder": ["gate.reminder"], "gate-stale": ["gate.expired"], "run-error": ["run.error"],
            "run-complete": ["run.complete"]}.get(ev.type, [])


def message_id(key: str) -> str:
    """A webhook-id: `msg_` and 32 hex digits, derived from what the message is about (never random)."""
    return "msg_" + uuid.uuid5(_IDS, key).hex


def event_message_id(ev: Event, wtype: str) -> str:
    return message_id(f"event:{ev.id}:{wtype}")


def budget_message_id(project_id: str, limit_usd: float) -> str:
    """One budget warning per project and budget: raising the budget arms the next one."""
    return message_id(f"budget-warning:{project_id}:{limit_usd:.6f}")


def wants(subscription: dict[str, Any], wtype: str, ts: datetime) -> bool:
    """A subscription gets the events of its types that happened after it was created."""
    return wtype in subscription["events"] and subscription["created_at"] <= ts


def links(base_url: str, project_id: str, ds: dict[str, Any] | None) -> WebhookLinks:
    if ds is None:
        return WebhookLinks(web=f"{base_url}/#/projects/{project_id}", api=f"{base_url}/projects/{project_id}")
    ds_id = ds["id"]
    done = ds.get("status") == "completed"
    return WebhookLinks(web=f"{base_url}/#/ds/{ds_id}", api=f"{base_url}/decision-sets/{ds_id}",
                        events=f"{base_url}/decision-sets/{ds_id}/events",
                        artifact=f"{base_url}/decision-sets/{ds_id}/artifact" if done or ds.get("artifact_key") else None,
                        diff=f"{base_url}/decision-sets/{ds_id}/diff" if ds.get("git_commit") else None)


def cost_summary(cost: dict[str, Any] | None) -> CostSummary | None:
    if not cost or cost.get("monthly_usd") is None:
        return None
    return CostSummary(monthly_usd=cost["monthly_usd"], low_usd=cost.get("low_usd"), high_usd=cost.get("high_usd"),
                       delta_vs_prev_usd=cost.get("delta_vs_prev_usd"))


def policy_summary(policy: dict[str, Any] | None) -> PolicySummary | None:
    """Rule ids by outcome (never the rules' details)."""
    if not policy or "overall" not in policy:
        return None
    rules = policy.get("rules") or []
    return PolicySummary(overall=policy["overall"], requires_review=bool(policy.get("requires_review")),
                         failed=[r["id"] for r in rules if r.get("status") == "fail" and not r.get("waived")],
                         warned=[r["id"] for r in rules if r.get("status") == "warn" and not r.get("waived")],
                         waived=[r["id"] for r in rules if r.get("waived")])


def build_payload(wtype: str, ev: Event, ds: dict[str, Any] | None, base_url: str,
                  budget: BudgetSummary | None = None) -> WebhookPayload:
    """The payload of one webhook event: ids, the status the event stands for, summaries and links.

    Built from the event and the decision set's row, field by field, so that nothing else of
    the row (requirements text, comments, constraints) can slip in.
    """
    d = ev.data
    status = {"plan.ready": "planning", "gate.reminder": "waiting_approval", "gate.expired": "stale",
              "run.error": "failed", "budget.paused": "paused_budget"}.get(wtype)
    data: dict[str, Any] = {"project_id": ev.project_id, "decision_set_id": ev.decision_set_id,
                            "version": ds.get("version") if ds else None,
                            "parent_id": ds.get("parent_id") if ds else None,
                            "links": links(base_url, ev.project_id, ds)}
    if wtype == "plan.ready":
        data.update(cost=cost_summary(ds.get("cost") if ds else None), policy=policy_summary(d))
    elif wtype == "gate.waiting":
        gate = d.get("gate")
        status = "waiting_intake" if gate == "intake" else "waiting_approval"
        data.update(gate=gate, expires_at=d.get("expires_at"), cost=cost_summary(d.get("cost")),
                    policy=policy_summary(d.get("policy")))
        if gate == "intake":
            data["questions"] = [q["field"] for q in d.get("questions") or [] if q.get("field")]
    elif wtype == "gate.reminder":
        data.update(gate="pre-codegen", expires_at=d.get("expires_at"))
    elif wtype == "gate.expired":
        data.update(gate="pre-codegen")
    elif wtype == "run.complete":
        status = d.get("status") or "completed"
        data.update(next_decision_set_id=d.get("next_decision_set_id"),
                    cost=cost_summary(ds.get("cost") if ds else None),
                    policy=policy_summary(ds.get("policy") if ds else None))
    elif wtype == "run.error":
        # a run that kept failing on a passing fault is stopped, not ended: `amp resume` runs the step again
        status = "stalled" if (ds or {}).get("status") == "stalled" else "failed"
        data.update(error_code=d.get("code"), node_name=d.get("node_name") or ev.node_name)
    elif wtype == "budget.paused":
        data.update(gate="budget", node_name=ev.node_name, budget=budget)
    elif wtype == "budget.warning":
        status = (ds or {}).get("status") or "unknown"
        data.update(budget=budget)
    data["status"] = status
    return WebhookPayload(type=wtype, timestamp=ev.ts, data=WebhookData.model_validate(data))  # type: ignore[arg-type]


def encode(payload: WebhookPayload) -> str:
    """The exact body that is signed and sent, the same on every attempt (minified, no nulls)."""
    return payload.model_dump_json(exclude_none=True)


@dataclass(frozen=True)
class Answer:
    """What one attempt got back: a status code, or an error before one."""

    status_code: int | None
    latency_ms: float
    error: str | None = None
    response: str | None = None
    retry_after_s: float | None = None
    refused: bool = False


@dataclass(frozen=True)
class Next:
    """What follows an attempt: the delivery's state, when to retry, whether the subscription is disabled."""

    state: str
    retry_in_s: float | None = None
    disable_reason: str | None = None
    error: str | None = None


def after_attempt(answer: Answer, chain_attempts: int, schedule: tuple[float, ...], jitter: float) -> Next:
    """2xx is success; 410 Gone disables the subscription; a refused target fails at once; the rest retries."""
    code = answer.status_code
    if code is not None and 200 <= code < 300:
        return Next("delivered")
    if code == 410:
        return Next("failed", disable_reason="the receiver answered 410 Gone: it wants no more deliveries",
                    error="410 Gone")
    if answer.refused:
        return Next("failed", error=answer.error)
    error = answer.error or (f"{code} (redirects are not followed; update the URL)" if code and 300 <= code < 400
                             else f"{code}")
    delay = next_delay(schedule, chain_attempts, jitter, answer.retry_after_s)
    if delay is None:
        return Next("failed", error=f"{error}; gave up after {chain_attempts} attempt(s)")
    return Next("pending", retry_in_s=delay, error=error)


def retry_after(value: str | None) -> float | None:
    """A `Retry-After` header in seconds (the HTTP-date form is ignored)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None
