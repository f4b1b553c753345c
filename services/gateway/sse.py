"""`GET /streams/{decision_set_id}`: the decision set's events as Server-Sent Events.

`id:` is the event's number in its decision set (1, 2, 3, ... in commit order, no gaps); a reconnect with `Last-Event-ID` resumes after it
with no gap and no duplicate; `run-complete` is always last and ends the stream.

A response lasts at most `AMP_SSE_MAX_DURATION_S` (App Runner and many proxies cut a request
after a fixed time): it then ends with a `retry:` hint and a comment, no event, and the client
reconnects with the `Last-Event-ID` it has, so the cut is invisible to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
from amp_contracts import TERMINAL, Event
from amp_runtime import metrics, store
from amp_runtime.db import dumps
from sse_starlette import EventSourceResponse, ServerSentEvent

from .hub import EventHub

PING_S = 10.0
PAGE = 500  # backlog rows read at a time: memory per stream stays flat however long the history
RETRY_MS = 1000  # reconnection delay asked of the client when a stream reaches its maximum duration
POLL_S = 5.0  # the database is read again at least this often, in case the live feed missed an event


@dataclass(frozen=True)
class Frame:
    """One event as it goes out: its number (`id:`), its type (`event:`) and its JSON (`data:`)."""

    number: int
    type: str
    data: str

    def encode(self) -> bytes:
        return ServerSentEvent(data=self.data, event=self.type, id=str(self.number)).encode()


def frame(ev: Event) -> Frame:
    """A live event's frame; the backlog's come ready-made from the database (`store.list_event_frames`)."""
    ts = ev.ts.isoformat() if hasattr(ev.ts, "isoformat") else ev.ts
    data = {**ev.data, "event_id": ev.number, "project_id": ev.project_id, "decision_set_id": ev.decision_set_id,
            "run_id": ev.run_id, "node_name": ev.node_name, "ts": ts, "user_id": ev.user_id,
            "trace_id": ev.trace_id}
    return Frame(ev.number or 0, ev.type, dumps(data, default=str))  # orjson: every live event


def _until_terminal(frames: list[Frame]) -> tuple[list[Frame], bool]:
    """The frames up to and including the first terminal event's, and whether there was one."""
    for i, f in enumerate(frames):
        if f.type in TERMINAL:
            return frames[: i + 1], True
    return frames, False


async def event_chunks(pool: asyncpg.Pool, hub: EventHub, ds_id: str, last_id: int, *, project_id: str,
                       max_duration_s: float = 3600.0) -> AsyncIterator[list[Frame]]:
    """The events after `last_id` in order, a backlog page or a live event at a time, ending after a
    terminal event or after `max_duration_s`. A page goes out as one write: a replay of a long
    history costs one send per page, not one per event."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_duration_s
    queue = hub.subscribe(ds_id)

    async def from_db(after: int, limit: int = 10_000) -> tuple[list[Frame], bool]:
        return _until_terminal([Frame(*row) for row in await store.list_event_frames(
            pool, ds_id, project_id=project_id, after=after, limit=limit)])

    try:
        while True:
            page, ended = await from_db(last_id, PAGE)
            if page:
                yield page
                last_id = page[-1].number or last_id
            if ended:
                return
            if len(page) < PAGE:
                break
        while (left := deadline - loop.time()) > 0:
            try:
                first = await asyncio.wait_for(queue.get(), timeout=min(POLL_S, left))
            except TimeoutError:
                # belt and braces: an event missed by the live feed is still in the database
                missed, ended = await from_db(last_id)
                if missed:
                    yield missed
                    last_id = missed[-1].number or last_id
                if ended:
                    return
                continue
            out: list[Frame] = []  # what has arrived meanwhile (a step's batch) goes out as one write
            for ev in _with_queued(first, queue):
                if ev.number is None or ev.number <= last_id or ev.project_id != project_id:
                    continue
                if ev.number > last_id + 1:  # the live feed ran ahead of this stream: fill from the database
                    missed, ended = await from_db(last_id, ev.number - last_id - 1)
                    if missed:
                        out.extend(missed)
                        last_id = missed[-1].number or last_id
                    if ended:
                        break
                    if ev.number != last_id + 1:
                        continue  # not committed yet as seen from here: the next poll brings it, in order
                out.append(frame(ev))
                last_id = ev.number
                if ev.type in TERMINAL:
                    break
            if out:
                yield out
                if out[-1].type in TERMINAL:
                    return
    finally:
        hub.unsubscribe(ds_id, queue)


def _with_queued(first: Event, queue: asyncio.Queue[Event]) -> list[Event]:
    """`first` and the events queued behind it: a step's events arrive together, one batch on the bus."""
    events = [first]
    while not queue.empty():
        events.append(queue.get_nowait())
    return events


async def ended_before(pool: asyncpg.Pool, ds_id: str, last_id: int, *, project_id: str) -> bool:
    """Whether the stream's terminal event is at or before `last_id`: a resume there has nothing to wait for."""
    return bool(await pool.fetchval("SELECT EXISTS (SELECT 1 FROM events WHERE decision_set_id = $1::uuid "
                                    "AND project_id = $4::uuid AND number <= $2 AND type = ANY($3::text[]))",
                                    ds_id, last_id, list(TERMINAL), project_id))


def heartbeat() -> ServerSentEvent:
    """`event: ping` every few seconds, without data: it keeps proxies from closing an idle stream, and an
    SSE client dispatches no event for it. An event with data would carry the previous `id` in the client's
    last-event-id buffer, so a client that de-duplicates by id would see the last event twice."""
    return ServerSentEvent(event="ping")


def stream_response(pool: asyncpg.Pool, hub: EventHub, ds_id: str, last_id: int, *, project_id: str,
                    max_duration_s: float = 3600.0,
                    on_close: Callable[[], None] | None = None) -> EventSourceResponse:
    """`on_close` runs once the response ends, however it ends (the caller's stream slot is given back)."""

    async def frames() -> AsyncIterator[ServerSentEvent | bytes]:
        finished = timed_out = False
        metrics.SSE_STREAMS.inc()
        metrics.SSE_OPEN.inc()
        try:
            async for chunk in event_chunks(pool, hub, ds_id, last_id, project_id=project_id,
                                             max_duration_s=max_duration_s):
                finished = chunk[-1].type in TERMINAL
                yield b"".join(f.encode() for f in chunk)
            if not finished:  # the time limit, not the run, ended this response: ask for a prompt resume
                timed_out = True
                yield ServerSentEvent(comment="maximum stream duration reached; reconnect with Last-Event-ID",
                                      retry=RETRY_MS)
        finally:
            metrics.SSE_OPEN.dec()
            if not (finished or timed_out):  # the client went away mid-run
                metrics.SSE_DISCONNECTS.inc()
            if on_close is not None:
                on_close()

    return EventSourceResponse(frames(), ping=int(PING_S), ping_message_factory=heartbeat,
                               headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
