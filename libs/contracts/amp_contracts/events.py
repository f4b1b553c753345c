"""Events of one decision set: the audit timeline and the SSE stream.

The same object is a row of the `events` table, a message on the per-decision-set event
subject, and (its `data`) the payload of one SSE frame whose `id:` is `id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from .constraints import Question
from .reason import utcnow

EventType = Literal[
    "reason-card", "policy-update", "cost-update", "diff-update", "gate-waiting",
    "gate-reminder", "gate-stale", "intake-update", "plan-update", "status-change", "run-error", "run-complete",
]
#: Ends a decision set's stream; nothing follows it.
TERMINAL: frozenset[str] = frozenset({"run-complete"})


class Event(BaseModel):
    id: int | None = Field(None, description="Unique per installation (the row's key; not an order).")
    number: int | None = Field(None, description="1, 2, 3, ... per decision set, in commit order, without gaps: "
                                                 "the SSE id and what `after` / Last-Event-ID count.")
    type: EventType
    project_id: str
    decision_set_id: str
    run_id: str
    node_name: str
    ts: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict)
    user_id: str | None = Field(None, description="The person whose action this event follows from.")
    trace_id: str | None = Field(None, pattern="^[0-9a-f]{32}$",
                                 description="W3C trace id of the decision set's trace (32 hex digits): what to "
                                             "hand an operator to find the run in the tracing backend. Absent in "
                                             "events recorded before traces were kept.")


class EventBatch(BaseModel):
    """What `amp.events.<decision_set_id>` carries: the events one step recorded, in id order.

    One message per step (not per event) keeps a step's events together and in order on the bus.
    Version 1 throughout: fields added later (`Event.trace_id`) are optional, so readers of
    either age accept the other's batches.
    """

    schema_version: int = 1
    events: list[Event]


class GateWaiting(BaseModel):
    decision_set_id: str
    gate: Literal["intake", "pre-codegen", "budget", "error"]
    message: str | None = Field(None, description="Why the run waits (the budget gate says what to raise).")
    ts: datetime = Field(default_factory=utcnow)
    interrupt_id: str | None = None
    questions: list[Question] = Field(default_factory=list)
    expires_at: datetime | None = None
    plan: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None
    policy: dict[str, Any] | None = None


class StatusChange(BaseModel):
    """A decision set moved from one status of its lifecycle to another (`lifecycle.TRANSITIONS`)."""

    decision_set_id: str
    previous: str = Field(alias="from")
    status: str = Field(alias="to")
    label: str = ""

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class RunError(BaseModel):
    decision_set_id: str
    node_name: str
    message: str
    code: str = "internal"
    ts: datetime = Field(default_factory=utcnow)


class RunComplete(BaseModel):
    decision_set_id: str
    version: int
    status: Literal["completed", "rejected", "superseded", "failed", "stale"]
    ts: datetime = Field(default_factory=utcnow)
    next_decision_set_id: str | None = None
    artifact_url: str | None = None
