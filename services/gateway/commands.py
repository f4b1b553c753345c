"""Write operations of the gateway: each one a database transaction plus an outbox message.

What people write (requirement text, answers, comments, waiver reasons) is redacted here, on the
way in, so secrets and personal data in it never reach the database, the bus, events, the SSE
stream, logs, model calls, Reason Cards or artifacts.

The outbox row is committed with the state change and published right after; a relay re-sends
what a crash left unsent (JetStream drops the duplicate by its message id).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import asyncpg
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
)
from amp_domain.access import four_eyes_refuses
from amp_domain.redaction import redact, redact_text
from amp_domain.requirements.extraction import apply_answers
from amp_runtime import store
from amp_runtime.bus import publish
from amp_runtime.providers import check_budget
from amp_runtime.telemetry import current_traceparent, step_span
from nats.js import JetStreamContext

from .auth import Access
from .schemas import AnswersSubmit, Approve, ConstraintsSubmit

log = logging.getLogger("amp.gateway")
F = TypeVar("F", bound=Callable[..., Any])


def traced(name: str) -> Callable[[F], F]:
    """Each command is the root span of what the agents then do for it (traceparent in the envelope)."""
    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        async def inner(*args: Any, **kwargs: Any) -> Any:
            with step_span("gateway", name, None):
                return await fn(*args, **kwargs)
        return inner  # type: ignore[return-value]
    return wrap


async def _enqueue(conn: asyncpg.Connection, subject: str, env: Envelope, msg_id: str) -> tuple:
    env.traceparent = current_traceparent()
    body = env.model_dump_json().encode()
    return await store.add_outbox(conn, env.project_id, subject, msg_id, body), subject, msg_id, body


async def _enqueue_transition(conn: asyncpg.Connection, row: dict[str, Any]) -> tuple | None:
    """The status-change event of a command's transition, on the decision set's event subject."""
    ev = row.get("transition")
    if ev is None:
        return None
    subject, msg_id = Subjects.events(ev.decision_set_id), f"evts:status:{ev.decision_set_id}:{ev.id}"
    body = EventBatch(events=[ev]).model_dump_json().encode()
    return await store.add_outbox(conn, ev.project_id, subject, msg_id, body), subject, msg_id, body


async def send_all(pool: asyncpg.Pool, js: JetStreamContext, *sent: tuple | None) -> None:
    for item in sent:
        if item is not None:
            await send_now(pool, js, *item)


async def send_now(pool: asyncpg.Pool, js: JetStreamContext, outbox_id: int, subject: str, msg_id: str,
                   body: bytes) -> None:
    """Publish what a command just committed; if this fails, the relay sends it later."""
    try:
        await publish(js, subject, body, msg_id)
        await store.mark_sent(pool, [outbox_id])
    except Exception:  # noqa: BLE001 - the outbox row stays unsent and the relay retries it
        log.exception("publish after commit failed; the outbox relay will retry")


async def flush_outbox(pool: asyncpg.Pool, js: JetStreamContext) -> int:
    rows = await store.unsent_outbox(pool)
    for row in rows:
        await publish(js, row["subject"], bytes(row["body"]), row["msg_id"])
    if rows:
        await store.mark_sent(pool, [r["id"] for r in rows])
    return len(rows)


async def relay_outbox(pool: asyncpg.Pool, js: JetStreamContext, interval_s: float = 2.0) -> None:
    while True:
        try:
            await flush_outbox(pool, js)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - retried at the next tick
            log.exception("outbox relay failed")
        await asyncio.sleep(interval_s)


@traced("submit_constraints")
async def submit_constraints(pool: asyncpg.Pool, js: JetStreamContext, project_id: str,
                             body: ConstraintsSubmit, user_id: str) -> dict[str, Any]:
    if body.is_empty():
        raise ValidationFailed("give requirements as text, structured constraints, or both")
    body = body.model_copy(update={"text": redact_text(body.text),
                                   "constraints": redact(body.constraints, drop_raw=False)})
    async with pool.acquire() as conn, conn.transaction():
        await store.get_project(conn, project_id)
        parent = await store.latest_decision_set(conn, project_id)
        ds = await store.create_decision_set(conn, project_id, requirements=body.text,
                                             input_constraints=body.constraints,
                                             parent_id=parent["id"] if parent else None, submitted_by=user_id)
        run_id = _run_id(ds)
        env = Envelope[IntakeRequested](project_id=project_id, decision_set_id=ds["id"], run_id=run_id, user_id=user_id,
                                        payload=IntakeRequested(text=body.text, constraints=body.constraints,
                                                                parent_decision_set_id=parent["id"] if parent else None))
        sent = await _enqueue(conn, Subjects.INTAKE_REQUESTED, env, f"intake-requested:{ds['id']}")
    await send_now(pool, js, *sent)
    return {"decision_set_id": ds["id"], "project_id": project_id, "version": ds["version"], "run_id": run_id,
            "stream_url": f"/streams/{ds['id']}"}


@traced("answer")
async def answer(pool: asyncpg.Pool, js: JetStreamContext, ds_id: str, body: AnswersSubmit,
                 access: Access) -> dict[str, Any]:
    body = body.model_copy(update={"text": redact_text(body.text), "answers": redact(body.answers, drop_raw=False)})
    async with pool.acquire() as conn, conn.transaction():
        ds = await store.get_decision_set(conn, ds_id, access.project_id)
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
        changed = await _enqueue_transition(conn, row)
        await store.insert_answer(conn, ds["project_id"], ds_id, interrupt_id, body.answers, body.text)
        env = Envelope[IntakeAnswered](project_id=ds["project_id"], decision_set_id=ds_id, run_id=_run_id(ds),
                                       user_id=access.user_id,
                                       payload=IntakeAnswered(interrupt_id=interrupt_id, answers=body.answers,
                                                              text=body.text))
        sent = await _enqueue(conn, Subjects.INTAKE_ANSWERED, env, f"intake-answered:{ds_id}:{interrupt_id}")
    await send_all(pool, js, changed, sent)
    return {"decision_set_id": ds_id, "status": "answering"}


@traced("approve")
async def approve(pool: asyncpg.Pool, js: JetStreamContext, ds_id: str, body: Approve,
                  access: Access) -> dict[str, Any]:
    """The gate's decision, by the caller: the approver and every waiver's grantor come from the token."""
    by = access.user_id
    body = body.model_copy(update={"by": by, "comment": redact_text(body.comment), "waivers": [
        w.model_copy(update={"by": by, "reason": redact_text(w.reason)}) for w in body.waivers]})
    async with pool.acquire() as conn, conn.transaction():
        ds = await store.get_decision_set(conn, ds_id, access.project_id)
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
        changed = await _enqueue_transition(conn, row)
        waivers = [w.model_dump(mode="json") for w in body.waivers]
        approval = await store.insert_approval(conn, ds["project_id"], ds_id, body.status, body.comment, body.by,
                                               waivers)
        gate = ds.get("gate") or {}
        env = Envelope[GateDecided](project_id=ds["project_id"], decision_set_id=ds_id, run_id=_run_id(ds), user_id=by,
                                    payload=GateDecided(interrupt_id=gate.get("interrupt_id"), status=body.status,
                                                        comment=body.comment, by=body.by, waivers=body.waivers))
        sent = await _enqueue(conn, Subjects.GATE_DECIDED, env, f"gate-decided:{approval['id']}")
    await send_all(pool, js, changed, sent)
    return {"decision_set_id": ds_id, "status": body.status}


@traced("resume")
async def resume(pool: asyncpg.Pool, js: JetStreamContext, ds_id: str, access: Access) -> dict[str, Any]:
    """Publish again the step a budget pause parked, once the project's budget allows it."""
    async with pool.acquire() as conn, conn.transaction():
        ds = await store.get_decision_set(conn, ds_id, access.project_id)
        gate = ds.get("gate") or {}
        if ds["status"] != "paused_budget" or gate.get("gate") != "budget":
            raise GateClosed(f"decision set {ds_id} is not paused for its budget (status {ds['status']})")
        await check_budget(conn, ds["project_id"], gate.get("estimate_usd") or 0.0)  # still short: 402, with numbers
        try:
            row = await store.update_decision_set(conn, ds_id, {"status": "resuming"}, expect_status={"paused_budget"},
                                                  node=ds.get("stage") or "", user_id=access.user_id)
        except ConflictError as e:
            raise GateClosed(str(e)) from None
        changed = await _enqueue_transition(conn, row)
        msg_id = f"resume:{ds_id}:{row['lock_version']}"
        oid = await store.add_outbox(conn, ds["project_id"], gate["subject"], msg_id, gate["body"].encode())
    await send_all(pool, js, changed, (oid, gate["subject"], msg_id, gate["body"].encode()))
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


def _run_id(ds: dict[str, Any]) -> str:
    return str(uuid.uuid5(uuid.UUID(ds["id"]), "run"))


__all__ = ["submit_constraints", "answer", "approve", "flush_outbox", "relay_outbox", "NotFound"]
