"""The SSE backlog's frames, put together by Postgres, say what a live event's frame says."""

from __future__ import annotations

import json
import uuid

import pytest
from amp_contracts import Event
from amp_runtime import store
from amp_runtime.db import create_pool

from services.gateway.sse import Frame, frame

pytestmark = pytest.mark.integration


async def test_a_backlog_frame_carries_the_same_json_as_the_live_one(settings) -> None:
    pool = await create_pool(settings.database_url)
    try:
        project = await store.create_project(pool, f"p-{uuid.uuid4().hex[:6]}")
        async with pool.acquire() as conn:
            ds = await store.create_decision_set(conn, project["id"], requirements="x")
        base = {"project_id": project["id"], "decision_set_id": ds["id"], "run_id": "run-1", "user_id": "ada"}
        events = [Event(type="reason-card", node_name="planner", trace_id="ab" * 16,
                        data={"title": "Pick ECS", "nested": {"a": [1, 2.5, None, "é\n\"q\""]}}, **base),
                  Event(type="status-change", node_name="planner", data={"status": "planned"}, **base),
                  Event(type="run-complete", node_name="diff_and_persist", data={"status": "completed"},
                        **{**base, "user_id": None})]
        async with pool.acquire() as conn, conn.transaction():
            stored = await store.insert_events(conn, events, f"k-{uuid.uuid4()}", None)
        rows = await store.list_event_frames(pool, ds["id"], project_id=project["id"])
        assert [r[0] for r in rows] == [e.number for e in stored]
        for ev, row in zip(stored, rows, strict=True):
            live, backlog = frame(ev), Frame(*row)
            assert (backlog.number, backlog.type) == (live.number, live.type)
            assert json.loads(backlog.data) == json.loads(live.data)
        assert await store.list_event_frames(pool, ds["id"], project_id=str(uuid.uuid4())) == []
        assert [r[0] for r in await store.list_event_frames(pool, ds["id"], project_id=project["id"], after=1,
                                                              limit=1)] == [2]
    finally:
        await pool.close()
