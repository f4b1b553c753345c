"""Fan-out of the bus's per-decision-set events (one `EventBatch` per step) to the SSE connections
of this gateway process.

One core-NATS subscription on `amp.events.>` feeds every open stream; the database is the
backlog. A stream subscribes here first and reads the backlog second, so nothing falls between.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import orjson
from amp_contracts import Event, Subjects
from nats.aio.client import Client as NatsClient


class EventHub:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._sub = None

    async def start(self, nc: NatsClient) -> None:
        self._sub = await nc.subscribe(f"{Subjects.EVENTS}.>", cb=self._on_message)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _on_message(self, msg) -> None:  # noqa: ANN001 - nats-py Msg
        queues = self._queues.get(msg.subject.rsplit(".", 1)[-1])
        if not queues:  # nobody is watching this decision set here: skip the parse
            return
        try:  # an EventBatch our own services wrote: no re-validation (orjson.JSONDecodeError is a ValueError)
            events = [Event.model_construct(**e) for e in orjson.loads(msg.data)["events"]]
        except (ValueError, TypeError, KeyError):
            return
        for q in list(queues):
            for ev in events:
                q.put_nowait(ev)

    def subscribe(self, decision_set_id: str) -> asyncio.Queue[Event]:
        q: asyncio.Queue[Event] = asyncio.Queue()
        self._queues[decision_set_id].add(q)
        return q

    def unsubscribe(self, decision_set_id: str, q: asyncio.Queue[Event]) -> None:
        qs = self._queues.get(decision_set_id)
        if qs is not None:
            qs.discard(q)
            if not qs:
                self._queues.pop(decision_set_id, None)
