"""What a webhook receiver gets: the Standard Webhooks payload `{type, timestamp, data}` of each event type.

The body of every delivery is one `WebhookPayload` (minified JSON), signed with the subscription's
secret over `webhook-id.webhook-timestamp.body`. `data` carries identifiers, the status, cost and
policy summaries and links; never secrets, requirement text or comments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

WebhookEventType = Literal[
    "plan.ready", "gate.waiting", "gate.reminder", "gate.expired", "run.complete", "run.error",
    "budget.warning", "budget.paused",
]

#: Every event type with what it means, in the order a run meets them (the API and CLI list these).
WEBHOOK_EVENTS: dict[str, str] = {
    "plan.ready": "The plan is costed and its policy evaluated; the approval gate opens next.",
    "gate.waiting": "A run waits for a person: intake questions (gate: intake) or approval (gate: pre-codegen).",
    "gate.reminder": "An approval gate is about to expire undecided.",
    "gate.expired": "An approval gate expired undecided; the version is stale.",
    "run.complete": "A version ended: completed, rejected, superseded by a new version, stale or failed.",
    "run.error": "A step of the run failed: for good (status failed; a run.complete follows), or it kept failing and "
                 "the run stopped (status stalled; resuming runs the step again).",
    "budget.warning": "The project's LLM spending reached 80 % of its budget.",
    "budget.paused": "A run paused before a model call its project's LLM budget cannot pay for.",
}

#: Header names of the Standard Webhooks specification.
HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
SECRET_PREFIX = "whsec_"


class CostSummary(BaseModel):
    monthly_usd: float
    low_usd: float | None = None
    high_usd: float | None = None
    delta_vs_prev_usd: float | None = None


class PolicySummary(BaseModel):
    overall: Literal["pass", "warn", "fail"]
    failed: list[str] = Field(default_factory=list, description="Ids of failed rules without a waiver.")
    warned: list[str] = Field(default_factory=list)
    waived: list[str] = Field(default_factory=list)
    requires_review: bool = False


class BudgetSummary(BaseModel):
    limit_usd: float | None = None
    spent_usd: float = 0.0
    remaining_usd: float | None = None


class WebhookLinks(BaseModel):
    web: str | None = Field(None, description="The decision set (or project) on the web page.")
    api: str | None = Field(None, description="The decision set (or project) in the REST API.")
    events: str | None = None
    artifact: str | None = None
    diff: str | None = None


class WebhookData(BaseModel):
    project_id: str
    decision_set_id: str | None = None
    version: int | None = None
    parent_id: str | None = None
    status: str = Field(description="The decision set's lifecycle status this event stands for.")
    gate: Literal["intake", "pre-codegen", "budget"] | None = None
    questions: list[str] | None = Field(None, description="Constraint fields the intake asks about (gate.waiting).")
    expires_at: datetime | None = None
    next_decision_set_id: str | None = None
    error_code: str | None = None
    node_name: str | None = None
    cost: CostSummary | None = None
    policy: PolicySummary | None = None
    budget: BudgetSummary | None = None
    links: WebhookLinks = Field(default_factory=WebhookLinks)


class WebhookPayload(BaseModel):
    type: WebhookEventType
    timestamp: datetime = Field(description="When the event happened (not when it was delivered).")
    data: WebhookData
