"""The transactional outbox: what a transaction decides to publish is a row of that transaction.

A writer (a step, a gateway command, a dead letter) adds its outgoing messages with `enqueue` in
the transaction that records its effect, and publishes them itself once it has committed (`send`).
If it dies first, or the publish fails, the rows stay unsent and a relay, which every service
process runs, publishes them: `FOR UPDATE SKIP LOCKED` gives each row to one relay at a time, a
row that fails backs off on its own without holding up the others, and sent rows are pruned after
a retention time. Message ids (`Nats-Msg-Id`) are fixed when the row is written, so JetStream
drops a repeat inside its duplicate window and consumers (the step protocol's `agent_runs`, the
webhooks' delivery rows) absorb one after it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass

import asyncpg
from nats.js import JetStreamContext

from . import store
from .bus import publish
from .telemetry import traceparent_in

log = logging.getLogger("amp.outbox")

#: How long the writer has to publish a row itself before a relay takes it over.
WRITER_GRACE_S = 5.0
#: Sent rows are kept this long (for operators, and to re-drive a stalled decision set), then pruned.
KEEP_SENT_S = 7 * 24 * 3600.0
PUBLISH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Outgoing:
    outbox_id: int
    subject: str
    msg_id: str
    body: bytes


async def enqueue(conn: asyncpg.Connection, project_id: str, subject: str, msg_id: str, body: bytes,
                  decision_set_id: str | None = None) -> Outgoing:
    """Add a message to the current transaction; it is published once, whatever happens after commit."""
    oid = await store.add_outbox(conn, project_id, subject, msg_id, body, decision_set_id, WRITER_GRACE_S)
    return Outgoing(oid, subject, msg_id, body)


async def enqueue_many(conn: asyncpg.Connection, project_id: str,
                       rows: list[tuple[str, str, bytes, str | None]]) -> list[Outgoing]:
    """`enqueue` for several (subject, message id, body, decision set) rows, in one round trip, in order."""
    return _outgoing(await store.add_outbox_many(conn, project_id, rows, WRITER_GRACE_S), rows)


def _outgoing(ids: list[int], rows: list[tuple[str, str, bytes, str | None]]) -> list[Outgoing]:
    return [Outgoing(oid, subject, msg_id, body) for oid, (subject, msg_id, body, _) in zip(ids, rows, strict=True)]


async def record_run(conn: asyncpg.Connection, key: str, project_id: str, ds_id: str, service: str, node: str,
                     output: dict, duration_ms: float, rows: list[tuple[str, str, bytes, str | None]]
                     ) -> list[Outgoing] | None:
    """A finished step's record and what it publishes (`enqueue_many`'s rows) in one round trip;
    None when the step is recorded already."""
    ids = await store.record_run(conn, key, project_id, ds_id, service, node, output, duration_ms, rows,
                                 WRITER_GRACE_S)
    return None if ids is None else _outgoing(ids, rows)


class SentMarks:
    """Outbox rows this process has published, marked sent in the background rather than by the
    writer on its way out.

    Marking is bookkeeping, not part of the effect: it keeps the relay from sending a row again,
    and a row the relay does send again is dropped by its message id. Done here, it is one
    statement for whatever the steps finishing meanwhile published, outside their latency and
    their traces, well within `WRITER_GRACE_S` (before which no relay looks at a row).
    """

    def __init__(self, pool: asyncpg.Pool, gather_s: float = 0.02) -> None:
        self.pool = pool
        self.gather_s = gather_s
        self._ids: list[int] = []
        self._wake = asyncio.Event()

    def add(self, ids: list[int]) -> None:
        if ids:
            self._ids.extend(ids)
            self._wake.set()

    async def flush(self) -> None:
        ids, self._ids = self._ids, []
        await _mark_sent(self.pool, ids)

    async def run(self) -> None:
        """Mark what was added, until cancelled (then `flush` once more)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.gather_s)  # what the steps finishing meanwhile publish joins in
            await self.flush()


async def send(pool: asyncpg.Pool, js: JetStreamContext, items: list[Outgoing], marks: SentMarks | None = None
               ) -> bool:
    """Publish what a transaction just committed, in order; on a failure the relay sends the rest later.

    What was published is marked sent through `marks` (in the background), else at once.
    Returns False if anything was left to the relay. Never raises for a bus or database fault: the
    effect is committed and the outbox holds it, so the caller's work is done either way.
    """
    sent: list[int] = []
    ok = True
    for item in items:
        try:
            await publish(js, item.subject, item.body, item.msg_id, timeout=PUBLISH_TIMEOUT_S,
                          traceparent=traceparent_in(item.body))
        except Exception as e:  # noqa: BLE001 - the row stays unsent; the relay retries it
            log.warning("publish of %s after commit failed (%s); the outbox relay will send it", item.msg_id, e)
            ok = False
            break  # keep the order: later messages go after this one, through the relay
        sent.append(item.outbox_id)
    if marks is not None:
        marks.add(sent)
    else:
        await _mark_sent(pool, sent)
    return ok


async def _mark_sent(pool: asyncpg.Pool, ids: list[int]) -> None:
    if not ids:
        return
    try:
        await store.mark_sent(pool, ids)
    except Exception as e:  # noqa: BLE001 - the relay re-sends; the message id makes that harmless
        log.warning("marking %d outbox rows sent failed (%s); the relay will send them again", len(ids), e)


def backoff_s(attempts: int, base_s: float = 0.5, cap_s: float = 60.0) -> float:
    """Seconds before a failing row is tried again: exponential, capped, with jitter."""
    return min(cap_s, base_s * 2 ** attempts) * (0.75 + random.random() / 2)


async def relay_once(pool: asyncpg.Pool, js: JetStreamContext, limit: int = 100) -> int:
    """Publish the due unsent rows this relay could lock; returns how many it sent.

    Every process relays every second, and almost always nothing is due: one read on the due
    index answers that, without the transaction (three round trips) that claiming rows takes."""
    sent = 0
    if not await store.outbox_due(pool):
        return 0
    async with pool.acquire(timeout=10) as conn, conn.transaction():
        for row in await store.claim_outbox(conn, limit):
            try:
                body = bytes(row["body"])
                await publish(js, row["subject"], body, row["msg_id"], timeout=PUBLISH_TIMEOUT_S,
                              traceparent=traceparent_in(body))
            except Exception as e:  # noqa: BLE001 - this row waits; the others go on
                await store.mark_unsent(conn, row["id"], f"{type(e).__name__}: {e}", backoff_s(row["attempts"]))
                continue
            await store.mark_sent(conn, [row["id"]])
            sent += 1
    return sent


async def relay(pool: asyncpg.Pool, js: JetStreamContext, interval_s: float = 1.0, prune_every_s: float = 600.0
                ) -> None:
    """Run `relay_once` for ever (a background task of every service); prune now and then."""
    loop = asyncio.get_running_loop()
    next_prune = loop.time()
    while True:
        try:
            while await relay_once(pool, js) > 0:
                pass
            if loop.time() >= next_prune:
                next_prune = loop.time() + prune_every_s
                await store.prune_outbox(pool, KEEP_SENT_S)
                await store.prune_idempotency_keys(pool)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - a bus or database outage: try again at the next tick
            log.warning("outbox relay: %s", e)
        await asyncio.sleep(interval_s)
