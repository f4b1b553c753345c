"""The two halves of the service: recording deliveries from the bus, and attempting them.

`record` turns one EventBatch into delivery rows (one per subscription and event; a redelivered
message adds nothing) and is acked only after they are committed. `run_sender` claims due rows
(`FOR UPDATE SKIP LOCKED`, so replicas share them), attempts each once and records the answer
and the next attempt's time; the schedule lives in the rows, so a restart resumes every chain
where it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from amp_contracts import BudgetExceeded, BudgetSummary, Event, EventBatch, Subjects
from amp_domain.webhook_signing import signed_headers
from amp_runtime import metrics, store, webhook_store
from amp_runtime.bus import publish
from amp_runtime.providers import check_budget
from amp_runtime.settings import Settings

from .nodes import (
    after_attempt,
    budget_message_id,
    build_payload,
    encode,
    event_message_id,
    wants,
    webhook_types,
)
from .sender import Sender

log = logging.getLogger("amp.webhooks")

#: Attempts one process makes at once.
MAX_IN_FLIGHT = 16
#: A claimed attempt's lease beyond its time limit: after it, a dead sender's delivery is due again.
LEASE_MARGIN_S = 20.0


@dataclass
class Webhooks:
    """What the handlers need, wired once by the app."""

    pool: Any
    settings: Settings
    sender: Sender
    js: Any = None  # JetStream: the dead-letter copy on `amp.dlq.webhooks`
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Subscriptions:
    """The enabled subscriptions of each project, looked up once for the batches of one fetch."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._of: dict[str, list[dict[str, Any]]] = {}

    async def of(self, project_id: str) -> list[dict[str, Any]]:
        if project_id not in self._of:  # a failed lookup is not kept: the batch is retried
            self._of[project_id] = await webhook_store.enabled_subscriptions(self.pool, project_id)
        return self._of[project_id]


async def record(svc: Webhooks, batch: EventBatch, subscriptions: Subscriptions) -> int:
    """Delivery rows for the events of one batch; returns how many were new."""
    by_project: dict[str, list[Event]] = {}
    for ev in batch.events:
        if ev.id is not None:
            by_project.setdefault(ev.project_id, []).append(ev)
    rows: list[dict[str, Any]] = []
    for project_id, events in by_project.items():
        subs = await subscriptions.of(project_id)
        if subs:
            rows += await _rows(svc, project_id, events, subs)
    return await webhook_store.insert_deliveries(svc.pool, rows)


async def _rows(svc: Webhooks, project_id: str, events: list[Event], subs: list[dict[str, Any]]) -> list[dict]:
    base = svc.settings.public_base_url
    rows: list[dict[str, Any]] = []
    rows_of_ds: dict[str, dict[str, Any] | None] = {}

    async def ds_row(ds_id: str) -> dict[str, Any] | None:
        if ds_id not in rows_of_ds:
            rows_of_ds[ds_id] = await store.find_decision_set(svc.pool, ds_id)
        return rows_of_ds[ds_id]

    def add(wtype: str, mid: str, ev: Event, ds: dict[str, Any] | None, budget: BudgetSummary | None) -> None:
        """The rows of one webhook event; an event whose payload cannot be built is logged and skipped.

        Building is a pure function of the event: what fails once fails on every redelivery, so
        it must not hold back (or loop) the batch's other events. Reads happen before, outside
        this guard: a database error fails the batch, which is redelivered.
        """
        try:
            body = encode(build_payload(wtype, ev, ds, base, budget))
        except Exception:  # noqa: BLE001 - one malformed event, never the batch
            log.exception("skipped webhook %s for event %s (%s) of decision set %s: its payload cannot be built",
                          wtype, ev.id, ev.type, ev.decision_set_id)
            return
        rows.extend({"subscription_id": s["id"], "project_id": project_id, "message_id": mid, "event_type": wtype,
                     "decision_set_id": ev.decision_set_id, "payload": body} for s in subs if wants(s, wtype, ev.ts))

    for ev in events:
        for wtype in webhook_types(ev):
            if not any(wants(s, wtype, ev.ts) for s in subs):
                continue
            budget = (await _budget(svc, project_id))[0] if wtype == "budget.paused" else None
            add(wtype, event_message_id(ev, wtype), ev, await ds_row(ev.decision_set_id), budget)
    last = events[-1]
    if any(wants(s, "budget.warning", last.ts) for s in subs):
        budget, crossed = await _budget(svc, project_id)
        if crossed and budget is not None and budget.limit_usd is not None:
            add("budget.warning", budget_message_id(project_id, budget.limit_usd), last,
                await ds_row(last.decision_set_id), budget)
    return rows


async def _budget(svc: Webhooks, project_id: str) -> tuple[BudgetSummary | None, bool]:
    """The project's budget position, and whether its spending is at 80 % or more of it."""
    try:
        status = await check_budget(svc.pool, project_id)
    except BudgetExceeded as e:
        d = (e.details or [{}])[0]
        return BudgetSummary(limit_usd=d.get("limit_usd"), spent_usd=d.get("spent_usd") or 0.0,
                             remaining_usd=d.get("remaining_usd")), True
    summary = BudgetSummary(limit_usd=status.limit_usd, spent_usd=status.spent_usd, remaining_usd=status.remaining_usd)
    return summary, status.level == "warn"


SERVICE = "webhooks"
#: The node a webhooks dead letter names: recording a batch's deliveries.
NODE = "record"
#: How long a dead letter keeps trying to record its row (a database outage) before only its bus copy is left.
DEAD_LETTER_PATIENCE_S = 30.0


async def dead_letter(svc: Webhooks, subject: str, data: bytes, reason: str, code: str,
                      batch: EventBatch | None = None) -> None:
    """Keep a batch no delivery could be recorded for: a `dead_letters` row and a copy on `amp.dlq.webhooks`.

    As the agents do, with one difference: a webhook that cannot be recorded says nothing about
    the run, so the decision set is left as it is (no run-error, no status change). Replaying the
    dead letter (`amp dlq replay`) publishes the batch on its subject again; recording it is
    idempotent, so only what is missing is added.
    """
    metrics.DEAD_LETTERS.labels(SERVICE, code).inc()
    digest = hashlib.sha256(data).hexdigest()[:32]
    first = batch.events[0] if batch is not None and batch.events else None
    project_id = _uuid_or_none(first.project_id) if first else None
    ds_id = _uuid_or_none(first.decision_set_id) if first and project_id else None
    log.error("dead-lettered a batch from %s (%s): %s", subject, code, reason)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEAD_LETTER_PATIENCE_S
    attempt = 0
    while True:
        try:
            async with svc.pool.acquire(timeout=10) as conn:
                await store.add_dead_letter(conn, SERVICE, subject, NODE, code, reason[:2000], data, digest,
                                            project_id, ds_id)
            break
        except Exception as e:  # noqa: BLE001 - the bus copy below still keeps the message
            attempt += 1
            if loop.time() >= deadline:
                log.error("could not record the dead letter of %s (%s); its copy on %s is kept", subject, e,
                          Subjects.dead_letter(SERVICE))
                break
            await asyncio.sleep(min(5.0, 0.5 * 2 ** attempt))
    if svc.js is None:
        return
    try:
        await publish(svc.js, Subjects.dead_letter(SERVICE), data, f"dlq:{SERVICE}:{subject}:{digest}",
                      headers={"Amp-Reason": reason[:500], "Amp-Subject": subject, "Amp-Code": code})
    except Exception as e:  # noqa: BLE001
        log.warning("dead-letter copy on the bus failed: %s", e)


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


# --- sending ----------------------------------------------------------------------------------

async def attempt(svc: Webhooks, d: dict[str, Any]) -> None:
    """One attempt of a claimed delivery, and its record."""
    s = svc.settings
    body = d["payload"].encode()
    secrets = [d["secret"]]
    expires = d.get("previous_secret_expires_at")
    if d.get("previous_secret") and expires is not None and expires > datetime.now(UTC):
        secrets.append(d["previous_secret"])
    headers = signed_headers(secrets, d["message_id"], int(time.time()), body)
    answer = await svc.sender.post(d["url"], headers, body)
    nxt = after_attempt(answer, d["chain_attempts"], s.webhook_retry_schedule_s, s.webhook_jitter)
    kept = await webhook_store.finish_attempt(
        svc.pool, d["id"], d["n"], state=nxt.state, status_code=answer.status_code, latency_ms=answer.latency_ms,
        error=nxt.error, response=answer.response, retry_in_s=nxt.retry_in_s, disable_reason=nxt.disable_reason)
    if not kept:
        log.warning("delivery %s attempt %s answered after its lease was taken over", d["id"], d["n"])
    log.info("webhook %s %s to subscription %s: attempt %s → %s%s", d["event_type"], d["message_id"],
             d["subscription_id"], d["n"], answer.status_code or answer.error, f" (next: {nxt.state})")


async def _attempt_logged(svc: Webhooks, d: dict[str, Any]) -> None:
    try:
        await attempt(svc, d)
    except Exception:  # noqa: BLE001 - the claim's lease runs out and the delivery is attempted again
        log.exception("attempt %s of delivery %s could not be recorded", d["n"], d["id"])


async def send_due(svc: Webhooks, limit: int) -> list[asyncio.Task]:
    lease = svc.settings.webhook_timeout_s + LEASE_MARGIN_S
    claimed = await webhook_store.claim_due(svc.pool, limit, lease)
    return [asyncio.create_task(_attempt_logged(svc, d)) for d in claimed]


async def run_sender(svc: Webhooks, in_flight: set[asyncio.Task]) -> None:
    """Claim and attempt due deliveries until cancelled; woken early when new rows are recorded here."""
    while True:
        svc.wake.clear()  # before claiming: a row recorded from here on wakes the next round
        try:
            free = MAX_IN_FLIGHT - len(in_flight)
            started = await send_due(svc, free) if free > 0 else []
            for task in started:
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if started and len(started) == free:
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the next round tries again; rows keep the state
            log.exception("claiming webhook deliveries failed")
        try:
            await asyncio.wait_for(svc.wake.wait(), svc.settings.webhook_poll_s)
        except TimeoutError:
            pass
