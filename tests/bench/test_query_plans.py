"""With a large history stored, the store's hot queries use an index: no Seq Scan on
decision_sets, events or agent_runs, so their cost does not grow with the number of stored
decision sets. The SQL is the store's own, captured by calling the store functions."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
from amp_contracts import NotFound
from amp_runtime import store
from amp_runtime.db import create_pool, migrate

pytestmark = pytest.mark.integration

BIG = ("decision_sets", "events", "agent_runs")
N_PROJECTS, DS_PER_PROJECT, EVENTS_PER_DS, RUNS_PER_DS = 1000, 10, 5, 5  # 10k decision sets


class Capture:
    """Stands in for a pool: records each statement and its arguments, returns nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def fetchrow(self, sql: str, *args: Any) -> None:
        self.calls.append((sql, args))

    async def fetchval(self, sql: str, *args: Any) -> None:
        self.calls.append((sql, args))

    async def fetch(self, sql: str, *args: Any) -> list:
        self.calls.append((sql, args))
        return []


async def captured(call) -> tuple[str, tuple[Any, ...]]:
    cap = Capture()
    try:
        await call(cap)
    except NotFound:
        pass
    assert len(cap.calls) == 1, cap.calls
    return cap.calls[0]


def scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    out = [(plan["Node Type"], plan.get("Relation Name", ""))]
    for child in plan.get("Plans", []):
        out.extend(scans(child))
    return out


async def fill(pool: asyncpg.Pool) -> dict[str, str]:
    """10k decision sets in 1k projects (1% waiting at a gate), 5 events and 5 agent runs each."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("CREATE TEMP TABLE p ON COMMIT DROP AS SELECT md5('p' || g)::uuid AS id, g "
                           "FROM generate_series(1, $1) g", N_PROJECTS)
        await conn.execute("INSERT INTO projects (id, name, ds_count) SELECT id, 'p' || g, $1 FROM p", DS_PER_PROJECT)
        await conn.execute("CREATE TEMP TABLE d ON COMMIT DROP AS SELECT md5('d' || p.g || '/' || v)::uuid AS id, "
                           "p.id AS project_id, v FROM p, generate_series(1, $1) v", DS_PER_PROJECT)
        await conn.execute(
            "INSERT INTO decision_sets (id, project_id, version, status, stage, plan, cost, gate_expires_at) "
            "SELECT id, project_id, v, CASE WHEN random() < 0.01 THEN 'waiting_approval' ELSE 'completed' END, "
            "'done', $1::jsonb, $2::jsonb, now() + (random() * interval '7 days') FROM d",
            {"components": [{"id": "c", "capability": "serving_online"}] * 20}, {"monthly_usd": 1234.5})
        await conn.execute("UPDATE decision_sets SET gate_expires_at = NULL WHERE status = 'completed'")
        await conn.execute(
            "INSERT INTO events (project_id, decision_set_id, run_id, node_name, type, step_key, seq, number, data) "
            "SELECT project_id, id, 'r', 'planner', 'reason-card', 'k' || s, 0, s, '{\"summary\": \"x\"}'::jsonb "
            "FROM d, generate_series(1, $1) s", EVENTS_PER_DS)
        await conn.execute(
            "INSERT INTO agent_runs (idem_key, project_id, decision_set_id, service, node, ok, output) "
            "SELECT md5(id::text || s), project_id, id, 'planner', 'planner', true, '{}'::jsonb "
            "FROM d, generate_series(1, $1) s", RUNS_PER_DS)
        await conn.execute("UPDATE decision_sets c SET parent_id = p.id FROM decision_sets p "
                           "WHERE p.project_id = c.project_id AND p.version = c.version - 1")
    await pool.execute("ANALYZE")
    row = await pool.fetchrow("SELECT id, project_id FROM decision_sets WHERE version = 5 LIMIT 1")
    key = await pool.fetchval("SELECT idem_key FROM agent_runs WHERE decision_set_id = $1 LIMIT 1", row["id"])
    return {"ds": str(row["id"]), "project": str(row["project_id"]), "key": key}


@pytest.fixture(scope="module")
def explain_db(settings):
    """A fresh database on the session's server, migrated, so the bulk rows stay out of other tests."""
    import asyncio

    base = settings.database_url
    name = f"amp_plans_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    asyncio.run(migrate(url))
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_hot_queries_use_indexes(explain_db: str) -> None:
    pool = await create_pool(explain_db, max_size=2)
    try:
        ids = await fill(pool)
        hot = {
            "get_decision_set": lambda db: store.get_decision_set(db, ids["ds"], project_id=ids["project"]),
            "find_project_decision_set": lambda db: store.find_project_decision_set(db, ids["ds"],
                                                                                    project_id=ids["project"]),
            "list_reason_cards": lambda db: store.list_reason_cards(db, ids["ds"], project_id=ids["project"]),
            "find_decision_set": lambda db: store.find_decision_set(db, ids["ds"]),
            "list_events": lambda db: store.list_events(db, ids["ds"], project_id=ids["project"]),
            "latest_decision_set": lambda db: store.latest_decision_set(db, ids["project"]),
            "list_decision_sets": lambda db: store.list_decision_sets(db, ids["project"]),
            "parent_cost": lambda db: store.parent_cost(db, ids["ds"]),
            "due_gates": lambda db: store.due_gates(db, 24 * 3600.0),
            "get_run": lambda db: store.get_run(db, ids["key"]),
            "step_events": lambda db: store.step_events(db, "k1", [ids["ds"]]),
            "list_projects": lambda db: store.list_projects(db, 100),
        }
        bad = {}
        for name, call in hot.items():
            sql, args = await captured(call)
            doc = await pool.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
            plan = (json.loads(doc) if isinstance(doc, str) else doc)[0]["Plan"]
            seq = [rel for node, rel in scans(plan) if node == "Seq Scan" and rel in BIG]
            if seq:
                bad[name] = {"sql": sql, "seq_scans": seq}
        assert not bad, f"hot queries scanning whole tables: {json.dumps(bad, indent=1)}"
    finally:
        await pool.close()
