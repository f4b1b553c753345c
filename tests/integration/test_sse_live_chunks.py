"""The live part of an SSE stream: what arrives together goes out together, in order, with no gap."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

import pytest
from amp_contracts import Event, EventBatch, Subjects
from amp_runtime import store
from amp_runtime.db import create_pool

from services.gateway.hub import EventHub
from services.gateway.sse import event_chunks
from tests.integration.rows import new_decision_set

pytestmark = pytest.mark.integration


def _events(project_id: str, ds_id: str, types: list[str]) -> list[Event]:
    return [Event(type=t, project_id=project_id, decision_set_id=ds_id, run_id="run-1", node_name="planner",
                  data={"status": "completed"} if t == "run-complete" else {"i": i})
            for i, t in enumerate(types)]


async def _stored(pool, events: list[Event]) -> list[Event]:
    async with pool.acquire() as conn, conn.transaction():
        return await store.insert_events(conn, events, f"k-{uuid.uuid4()}", None)


async def _feed(hub: EventHub, ds_id: str, events: list[Event]) -> None:
    """One `EventBatch` from the bus, handed to the hub as its NATS subscription would."""
    body = EventBatch(events=events).model_dump_json().encode()
    await hub._on_message(SimpleNamespace(subject=Subjects.events(ds_id), data=body))


async def test_a_steps_events_go_out_as_one_chunk_and_a_gap_is_filled_in_order(settings) -> None:
    pool = await create_pool(settings.database_url)
    hub = EventHub()
    try:
        project_id, ds_id = await new_decision_set(pool)
        chunks = event_chunks(pool, hub, ds_id, 0, project_id=project_id, max_duration_s=20)
        got: list[list[tuple[int, str]]] = []

        async def read() -> None:
            async for chunk in chunks:
                got.append([(f.number, f.type) for f in chunk])

        reader = asyncio.create_task(read())
        while not hub._queues.get(ds_id):  # the stream has subscribed and read its (empty) backlog
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        first = await _stored(pool, _events(project_id, ds_id, ["reason-card", "reason-card", "status-change"]))
        await _feed(hub, ds_id, first)
        while not got:
            await asyncio.sleep(0.01)
        # the next step's batch is lost on the way; the one after it arrives: the stream reads the
        # missing events from the database and sends them before the new ones, in one write
        lost = await _stored(pool, _events(project_id, ds_id, ["reason-card", "status-change"]))
        last = await _stored(pool, _events(project_id, ds_id, ["reason-card", "run-complete", "reason-card"]))
        await _feed(hub, ds_id, last)
        await asyncio.wait_for(reader, 10)
        assert got[0] == [(e.number, e.type) for e in first]
        assert got[1] == [(e.number, e.type) for e in lost + last[:2]]  # nothing after the terminal event
        assert len(got) == 2
        assert not hub._queues.get(ds_id)  # the stream gave its queue back
    finally:
        await pool.close()
