"""How a step's record and its outbox rows are stored: the record as `json` text (compressed, read
back whole), the outbox bodies uncompressed (pruned a week after they are sent)."""

from __future__ import annotations

import uuid

import pytest
from amp_runtime import store
from amp_runtime.db import create_pool

from tests.integration.rows import new_decision_set

pytestmark = pytest.mark.integration


async def test_a_large_record_round_trips_and_only_the_outbox_body_stays_uncompressed(settings) -> None:
    pool = await create_pool(settings.database_url)
    try:
        project_id, ds_id = await new_decision_set(pool)
        key = f"k-{uuid.uuid4()}"
        plan = {"components": [{"name": f"c{i}", "notes": "the same words again " * 20} for i in range(40)]}
        output = {"event_sets": [ds_id], "messages": [["amp.plan.proposed", {"payload": plan, "n": 2**70}]]}
        body = b'{"payload": ' + str(plan).encode() + b"}"
        assert len(body) > 8192 and len(str(output)) > 8192  # past the size where Postgres compresses a value
        async with pool.acquire() as conn, conn.transaction():
            ids = await store.record_run(conn, key, project_id, ds_id, "planner", "planner", output, 1.0,
                                         [("amp.plan.proposed", f"{key}:0", body, ds_id)])
        assert ids is not None and len(ids) == 1
        run = await store.get_run(pool, key)
        assert run is not None
        assert run["output"]["messages"] == output["messages"]  # an integer past 64 bits survives too
        stored = await pool.fetchrow(
            "SELECT pg_typeof(r.output)::text AS type, pg_column_compression(r.output) AS record, "
            "pg_column_compression(o.body) AS body, o.body = $2 AS same FROM agent_runs r, outbox o "
            "WHERE r.idem_key = $1 AND o.id = $3", key, body, ids[0])
        assert stored["type"] == "json" and stored["record"] is not None  # text, compressed
        assert stored["body"] is None and stored["same"]  # kept as it came, uncompressed
    finally:
        await pool.close()
