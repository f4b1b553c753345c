"""Write operations of the gateway: each one a database transaction plus its outbox messages.

A command runs in the transaction of its `Unit` (see `idempotency.command`), on one connection;
its messages are outbox rows of that transaction, published once it commits, and by the relay
of any service process if that publish does not happen (JetStream drops a repeat by message id).

What people write (requirement text, answers, comments, waiver reasons) is redacted here, on the
way in, so secrets and personal data in it never reach the database, the bus, events, the SSE
stream, logs, model calls, Reason Cards or artifacts.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from amp_contracts import (
    ConflictError,
    ConstraintSchema,
    Envelope,
    EventBatch,
    Forbidden,
    GateClosed,
    GateDecided,
    IntakeAnswered,
    IntakeRequested,
    NotFound,
    PolicyBlocked,
    Subjects,
    ValidationFailed,
    envelope_of,
)
from amp_domain.access import four_eyes_refuses
from amp_domain.redaction import redact, redact_text
from amp_domain.requirements.extraction import apply_answers
from amp_runtime import metrics, store
from amp_runtime.providers import check_budget
from amp_runtime.telemetry import (
    bind_log_context,
    continue_trace,
    current_traceparent,
    log_context,
    reset_log_context,
    step_span,
)

from .auth import Access
from .idempotency import Unit
from .schemas import AnswersSubmit, Approve, ConstraintsSubmit

log = logging.getLogger("amp.gateway")
F = TypeVar("F", bound=Callable[..., Any])


def traced(name: str, *, on_decision_set: bool = False) -> Callable[[F], F]:
    """Each command is the parent span of what the agents then do for it (traceparent in the envelope).

    A command that starts a version opens its trace (under the HTTP request's span); a command on an
    existing version (its id the second argument) continues that version's trace, linked to the request.
    Its log lines carry the request's ids and, once known, the run's (`_enqueue` binds them).
    """
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        async def inner(u: Unit, target: str, *args: Any, **kwargs: Any) -> Any:
            if on_decision_set:
                ids = bind_log_context(service="gateway", node_name=name, decision_set_id=target)
                try:
                    parent = await store.traceparent_of(u.conn, target)
                    with continue_trace(f"gateway.{name}", parent, service="gateway", node=name,
                                        decision_set_id=target):
                        return await fn(u, target, *args, **kwargs)
                finally:
                    reset_log_context(ids)
            with step_span("gateway", name, None):
                return await fn(u, target, *args, **kwargs)
        return inner  # type: ignore[return-value]
    return wrap


async def _enqueue(u: Unit, subject: str, env: Envelope, msg_id: str) -> None:
    """Queue a message of the command; it carries the trace and the request id to the agents."""
    env.traceparent = current_traceparent()
    env.request_id = env.request_id or log_context().get("request_id")
    bind_log_context(project_id=env.project_id, decision_set_id=env.decision_set_id, run_id=env.run_id,
                     user_id=env.user_id)
    await u.enqueue(env.project_id, subject, msg_id, env.model_dump_json().encode(), env.decision_set_id)
    log.info("queued %s for decision set %s", subject, env.decision_set_id)


async def _enqueue_transition(u: Unit, row: dict[str, Any]) -> None:
    """The status-change event of a command's transition, on the decision set's event subject."""
    ev = row.get("transition")
    if ev is None:
        return
    subject, msg_id = Subjects.events(ev.decision_set_id), f"evts:status:{ev.decision_set_id}:{ev.id}"
    await u.enqueue(ev.project_id, subject, msg_id, EventBatch(events=[ev]).model_dump_json().encode(),
                    ev.decision_set_id)


async def create_project(u: Unit, name: str, description: str, owner_id: str, four_eyes: bool = False
                         ) -> dict[str, Any]:
    """A project; its creator is its owner."""
    row = await store.create_project(u.conn, name, redact_text(description), owner_id=owner_id)
    if four_eyes:
        await store.set_project_settings(u.conn, row["id"], True)
        row["four_eyes"] = True
    return row


@traced("submit_constraints")
async def submit_constraints(u: Unit, project_id: str, body: ConstraintsSubmit, user_id: str) -> dict[str, Any]:
    if body.is_empty():
        raise ValidationFailed("give requirements as text, structured constraints, or both")
    body = body.model_copy(update={"text": redact_text(body.text),
                                   "constraints": redact(body.constraints, drop_raw=False)})
    conn = u.conn
    await store.get_project(conn, project_id)
    parent = await store.latest_decision_set(conn, project_id)
    ds = await store.create_decision_set(conn, project_id, requirements=body.text,
                                         input_constraints=body.constraints,
                                         parent_id=parent["id"] if parent else None, submitted_by=user_id)
    run_id = _run_id(ds)
    env = envelope_of(IntakeRequested)(project_id=project_id, decision_set_id=ds["id"], run_id=run_id, user_id=user_id,
                                    payload=IntakeRequested(text=body.text, constraints=body.constraints,
                                                            parent_decision_set_id=parent["id"] if parent else None))
    await _enqueue(u, Subjects.INTAKE_REQUESTED, env, f"intake-requested:{ds['id']}")
    return {"decision_set_id": ds["id"], "project_id": project_id, "version": ds["version"], "run_id": run_id,
            "stream_url": f"/streams/{ds['id']}"}


@traced("answer", on_decision_set=True)
async def answer(u: Unit, ds_id: str, body: AnswersSubmit, access: Access) -> dict[str, Any]:
    body = body.model_copy(update={"text": redact_text(body.text), "answers": redact(body.answers, drop_raw=False)})
    conn = u.conn
    ds = await store.get_decision_set(conn, ds_id, project_id=access.project_id)
    gate = ds.get("gate") or {}
    if ds["status"] != "waiting_intake" or gate.get("gate") != "intake":
        raise GateClosed(f"decision set {ds_id} is not waiting for answers (status {ds['status']})")
    _check_answers(ds, body, gate)
    interrupt_id = body.interrupt_id or gate.get("interrupt_id")
    if interrupt_id != gate.get("interrupt_id"):
        raise GateClosed(f"those questions of decision set {ds_id} are no longer open")
    try:
        row = await store.update_decision_set(conn, ds_id, {"status": "answering"}, expect_status={"waiting_intake"},
                                              expect_lock_version=ds["lock_version"], node="apply_answers",
                                              user_id=access.user_id)
    except ConflictError as e:
        raise GateClosed(str(e)) from None
    await _enqueue_transition(u, row)
    await store.insert_answer(conn, ds["project_id"], ds_id, interrupt_id, body.answers, body.text)
    env = envelope_of(IntakeAnswered)(project_id=ds["project_id"], decision_set_id=ds_id, run_id=_run_id(ds),
                                   user_id=access.user_id,
                                   payload=IntakeAnswered(interrupt_id=interrupt_id, answers=body.answers,
                                                          text=body.text))
    await _enqueue(u, Subjects.INTAKE_ANSWERED, env, f"intake-answered:{ds_id}:{interrupt_id}")
    _gate_waited(gate)
    return {"decision_set_id": ds_id, "status": "answering"}


@traced("approve", on_decision_set=True)
async def approve(u: Unit, ds_id: str, body: Approve, access: Access) -> dict[str, Any]:
    """The gate's decision, by the caller: the approver and every waiver's grantor come from the token."""
    by = access.user_id
    body = body.model_copy(update={"by": by, "comment": redact_text(body.comment), "waivers": [
        w.model_copy(update={"by": by, "reason": redact_text(w.reason)}) for w in body.waivers]})
    conn = u.conn
    ds = await store.get_decision_set(conn, ds_id, project_id=access.project_id)
    if ds["status"] != "waiting_approval":
        raise GateClosed(f"decision set {ds_id} is not waiting for approval (status {ds['status']})")
    project = await store.get_project(conn, access.project_id)
    if four_eyes_refuses(project.get("four_eyes", False), ds.get("submitted_by"), by):
        raise Forbidden(f"four eyes: you submitted version {ds['version']}, so someone else must decide its gate")
    if body.status == "approved":
        _check_waivers(ds, body)
    try:
        row = await store.update_decision_set(conn, ds_id, {"status": "deciding"}, expect_status={"waiting_approval"},
                                              expect_lock_version=ds["lock_version"], node="gate_hitl", user_id=by)
    except ConflictError:
        raise ConflictError(f"decision set {ds_id} has already been decided") from None
    await _enqueue_transition(u, row)
    waivers = [w.model_dump(mode="json") for w in body.waivers]
    approval = await store.insert_approval(conn, ds["project_id"], ds_id, body.status, body.comment, body.by,
                                           waivers)
    gate = ds.get("gate") or {}
    env = envelope_of(GateDecided)(project_id=ds["project_id"], decision_set_id=ds_id, run_id=_run_id(ds), user_id=by,
                                payload=GateDecided(interrupt_id=gate.get("interrupt_id"), status=body.status,
                                                    comment=body.comment, by=body.by, waivers=body.waivers))
    await _enqueue(u, Subjects.GATE_DECIDED, env, f"gate-decided:{approval['id']}")
    _gate_waited(ds.get("gate") or {})
    return {"decision_set_id": ds_id, "status": body.status}


@traced("resume", on_decision_set=True)
async def resume(u: Unit, ds_id: str, access: Access) -> dict[str, Any]:
    """Publish again the step a budget pause, or a stop after repeated errors, parked on the decision set.

    A budget pause resumes once the project's budget allows it; a stalled run at once (the step's
    key is unchanged: what it had done is replayed, what it had not is run).
    """
    conn = u.conn
    ds = await store.get_decision_set(conn, ds_id, project_id=access.project_id)
    gate = ds.get("gate") or {}
    parked = {"paused_budget": "budget", "stalled": "error"}.get(ds["status"])
    if parked is None or gate.get("gate") != parked:
        raise GateClosed(f"decision set {ds_id} is neither paused for its budget nor stopped after errors "
                         f"(status {ds['status']})")
    if parked == "budget":
        await check_budget(conn, ds["project_id"], gate.get("estimate_usd") or 0.0)  # still short: 402, with numbers
    try:
        row = await store.update_decision_set(conn, ds_id, {"status": "resuming"}, expect_status={ds["status"]},
                                              node=ds.get("stage") or "", user_id=access.user_id)
    except ConflictError as e:
        raise GateClosed(str(e)) from None
    await _enqueue_transition(u, row)
    if gate.get("subject") and gate.get("body"):
        await u.enqueue(ds["project_id"], gate["subject"], f"resume:{ds_id}:{row['lock_version']}",
                        gate["body"].encode(), ds_id)
    _gate_waited(gate)
    return {"decision_set_id": ds_id, "status": "resuming"}


def _check_answers(ds: dict[str, Any], body: AnswersSubmit, gate: dict[str, Any]) -> None:
    """Typed answers must fit the schema now (422 naming the field), not fail later on the bus.

    Sending no answer skips the optional questions (their values are then assumed, visibly);
    a required question cannot be skipped.
    """
    if not body.answers and not body.text.strip():
        required = [q["field"] for q in gate.get("questions") or [] if q.get("blocking")]
        if required:
            raise ValidationFailed(f"{', '.join(required)} must be answered: planning cannot go on without it",
                                   details=[{"field": f} for f in required])
    if body.answers:
        apply_answers(ConstraintSchema.model_validate(ds.get("constraints") or {}), body.answers)


def _check_waivers(ds: dict[str, Any], body: Approve) -> None:
    """A failed policy cannot be approved unless every failed rule has a recorded waiver."""
    failed = [r["id"] for r in (ds.get("policy") or {}).get("rules", []) if r["status"] == "fail" and not r.get("waived")]
    missing = sorted(set(failed) - {w.rule_id for w in body.waivers})
    if missing:
        raise PolicyBlocked(f"policy failed on {', '.join(missing)}: approving needs a waiver for each "
                            f"(rule_id, reason, by)", details=[{"rule_id": r} for r in missing])


def _gate_waited(gate: dict[str, Any]) -> None:
    """How long the gate being decided had waited (from its gate-waiting time)."""
    try:
        since = datetime.fromisoformat(str(gate["ts"]))
    except (KeyError, ValueError):
        return
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    metrics.GATE_WAIT.labels(str(gate.get("gate") or "unknown")).observe(
        max(0.0, (datetime.now(UTC) - since).total_seconds()))


def _run_id(ds: dict[str, Any]) -> str:
    return str(uuid.uuid5(uuid.UUID(ds["id"]), "run"))


__all__ = ["create_project", "submit_constraints", "answer", "approve", "resume", "NotFound"]
