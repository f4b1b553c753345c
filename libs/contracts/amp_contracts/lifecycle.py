"""The life of a decision set, as data: its statuses and the transitions allowed between them.

Every status change goes through one function of the store, which refuses a transition this
table does not allow, atomically (the row's current status is part of the update's condition).
That is what keeps a finished decision set final: no late message, dead letter or sweeper can
change a status from which no transition leaves.

    intake ─┬─▶ waiting_intake ─▶ answering ─┬─▶ planning ─▶ waiting_approval ─▶ deciding ─┬─▶ generating ─▶ completed
            └────────────────────────────────┘       ▲             │                        ├─▶ rejected
                                                     │             └─▶ expiring ─▶ stale    └─▶ superseded (next version)
    any running status ─▶ paused_budget ─▶ resuming ─▶ (the status the resumed step sets)
    any running status ─▶ stalled ─▶ resuming  (a step that kept failing on a passing fault; resume retries it)
    any running status ─▶ failed
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    INTAKE = "intake"
    WAITING_INTAKE = "waiting_intake"
    ANSWERING = "answering"
    PLANNING = "planning"
    WAITING_APPROVAL = "waiting_approval"
    EXPIRING = "expiring"
    DECIDING = "deciding"
    GENERATING = "generating"
    PAUSED_BUDGET = "paused_budget"
    STALLED = "stalled"
    RESUMING = "resuming"
    COMPLETED = "completed"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    STALE = "stale"
    FAILED = "failed"


S = Status
#: Ends of a decision set's life: nothing leaves them.
TERMINAL: frozenset[Status] = frozenset({S.COMPLETED, S.REJECTED, S.SUPERSEDED, S.STALE, S.FAILED})
#: Statuses in which a step of the pipeline may be running or about to run.
RUNNING: frozenset[Status] = frozenset({S.INTAKE, S.ANSWERING, S.PLANNING, S.DECIDING, S.GENERATING, S.RESUMING})
#: Statuses that wait for a person (or the gate sweeper).
WAITING: frozenset[Status] = frozenset({S.WAITING_INTAKE, S.WAITING_APPROVAL, S.EXPIRING, S.PAUSED_BUDGET,
                                        S.STALLED})

_FAIL = frozenset({S.FAILED})
_PAUSE = frozenset({S.PAUSED_BUDGET, S.STALLED})

#: status → the statuses it may move to. A status may be rewritten with itself where listed
#: (a revision round keeps `planning`).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.INTAKE: frozenset({S.WAITING_INTAKE, S.PLANNING}) | _PAUSE | _FAIL,
    S.WAITING_INTAKE: frozenset({S.ANSWERING}) | _FAIL,
    S.ANSWERING: frozenset({S.WAITING_INTAKE, S.PLANNING}) | _PAUSE | _FAIL,
    S.PLANNING: frozenset({S.PLANNING, S.WAITING_APPROVAL}) | _PAUSE | _FAIL,
    S.WAITING_APPROVAL: frozenset({S.DECIDING, S.EXPIRING}) | _FAIL,
    S.EXPIRING: frozenset({S.STALE}) | _FAIL,
    S.DECIDING: frozenset({S.GENERATING, S.REJECTED, S.SUPERSEDED}) | _PAUSE | _FAIL,
    S.GENERATING: frozenset({S.COMPLETED}) | _PAUSE | _FAIL,
    S.PAUSED_BUDGET: frozenset({S.RESUMING}) | _FAIL,
    S.STALLED: frozenset({S.RESUMING}) | _FAIL,
    S.RESUMING: frozenset({S.WAITING_INTAKE, S.PLANNING, S.WAITING_APPROVAL, S.GENERATING, S.COMPLETED,
                           S.REJECTED, S.SUPERSEDED}) | _PAUSE | _FAIL,
    **{t: frozenset() for t in TERMINAL},
}

#: What a person reads for each status (the CLI, the page, the timeline's transition events).
LABELS: dict[Status, str] = {
    S.INTAKE: "reading the requirements", S.WAITING_INTAKE: "waiting for your answers",
    S.ANSWERING: "applying your answers", S.PLANNING: "planning", S.WAITING_APPROVAL: "waiting for approval",
    S.EXPIRING: "approval expiring", S.DECIDING: "applying the decision", S.GENERATING: "generating and validating",
    S.PAUSED_BUDGET: "paused: LLM budget", S.STALLED: "stopped after repeated errors: resume to retry", S.RESUMING: "resuming", S.COMPLETED: "completed",
    S.REJECTED: "rejected", S.SUPERSEDED: "superseded by a new version", S.STALE: "approval expired",
    S.FAILED: "failed",
}


def allowed(current: str, new: str) -> bool:
    return Status(new) in TRANSITIONS[Status(current)]


def sources(new: str) -> frozenset[Status]:
    """The statuses from which `new` may be entered (the condition of an atomic transition)."""
    target = Status(new)
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


def is_terminal(status: str) -> bool:
    return Status(status) in TERMINAL
