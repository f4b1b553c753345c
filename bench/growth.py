"""Does the cost stay flat as history grows? Version 1 vs version N of one project; plans with
many stored decision sets; the SSE replay of a decision set with a long event history."""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

import asyncpg

from .common import Api, is_complete, summary
from .pipeline import Ctx, plan_once


async def versions(ctx: Ctx, n: int) -> dict[str, Any]:
    """Submit `n` versions to one project, one after another (each becomes the next one's parent)."""
    pid = await ctx.api.create_project("bench-versions")
    text = ctx.texts[0]["text"]
    ms = [(await plan_once(ctx.api, pid, text)).ms for _ in range(n)]
    k = max(1, min(5, n // 5))
    first, last = summary(ms[:k]), summary(ms[-k:])
    return {"versions": n, "window": k, "ms_by_version": [round(v, 1) for v in ms],
            "first": first, "last": last, "ratio_last_first_p50": round(last["p50"] / first["p50"], 3),
            "trend_ratio": trend_ratio(ms)}


def trend_ratio(ms: list[float]) -> float | None:
    """The last version's round trip over the first's, on the Theil-Sen line through all of them.

    The line's slope is the median of the slopes between every two versions and its level the
    median of what is left, so a few round trips slowed by the machine move it little: the p50 of
    five versions at each end read 1.23 in one run and 1.00 in the next on the same code, where
    this read 0.96 and 1.00. A growth with history shows as a slope whatever the noise around it."""
    n = len(ms)
    if n < 2:
        return None
    slope = statistics.median((ms[j] - ms[i]) / (j - i) for i in range(n) for j in range(i + 1, n))
    level = statistics.median(v - slope * i for i, v in enumerate(ms))
    return round((level + slope * (n - 1)) / level, 3) if level > 0 else None


async def stored_count(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM decision_sets")


async def bulk_history(pool: asyncpg.Pool, target: int, events_per_ds: int = 10, runs_per_ds: int = 5,
                       ds_per_project: int = 10) -> dict[str, Any]:
    """Bring decision_sets to `target` rows with SQL (copies of a real completed row), with events
    and agent_runs rows for each, then ANALYZE."""
    have = await stored_count(pool)
    need = max(0, target - have)
    t0 = time.perf_counter()
    if need:
        tmpl = await pool.fetchval("SELECT id FROM decision_sets WHERE status = 'completed' ORDER BY created_at "
                                   "LIMIT 1") or await pool.fetchval("SELECT id FROM decision_sets LIMIT 1")
        ev = await pool.fetchrow("SELECT type, node_name, data FROM events WHERE type = 'reason-card' LIMIT 1")
        n_proj = (need + ds_per_project - 1) // ds_per_project
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("CREATE TEMP TABLE bulk_p ON COMMIT DROP AS SELECT md5('p' || g || random()::text)::uuid "
                               "AS id, g FROM generate_series(1, $1) g", n_proj)
            await conn.execute("INSERT INTO projects (id, name, ds_count) SELECT id, 'bulk-' || g, $1 FROM bulk_p",
                               ds_per_project)
            await conn.execute(
                "CREATE TEMP TABLE bulk_d ON COMMIT DROP AS SELECT md5('d' || p.g || '/' || v || random()::text)::uuid "
                "AS id, p.id AS project_id, v FROM bulk_p p, generate_series(1, $1) v", ds_per_project)
            await conn.execute(
                "INSERT INTO decision_sets (id, project_id, version, status, stage, requirements, input_constraints, "
                "constraints, coverage, assumptions, plan, risks, cost, policy, gate, approval, reports, diff, "
                "artifact_key, tree_key, git_commit) "
                "SELECT d.id, d.project_id, d.v, 'completed', 'done', t.requirements, t.input_constraints, "
                "t.constraints, t.coverage, t.assumptions, t.plan, t.risks, t.cost, t.policy, t.gate, t.approval, "
                "t.reports, t.diff, t.artifact_key, t.tree_key, t.git_commit "
                "FROM bulk_d d, (SELECT * FROM decision_sets WHERE id = $1) t", tmpl)
            await conn.execute(
                "INSERT INTO events (project_id, decision_set_id, run_id, node_name, type, step_key, seq, number, data) "
                "SELECT d.project_id, d.id, 'bulk', $2, $3, 'bulk:' || d.id || ':' || s, 0, s, $4 "
                "FROM bulk_d d, generate_series(1, $1) s", events_per_ds, ev["node_name"] if ev else "planner",
                ev["type"] if ev else "reason-card", ev["data"] if ev else {})
            await conn.execute(
                "INSERT INTO agent_runs (idem_key, project_id, decision_set_id, service, node, ok, output, duration_ms) "
                "SELECT md5(d.id::text || s), d.project_id, d.id, 'bulk', 'bulk', true, '{}'::jsonb, 1 "
                "FROM bulk_d d, generate_series(1, $1) s", runs_per_ds)
        # VACUUM too, so autovacuum does not run on the new rows while the next round trips are timed
        for table in ("projects", "decision_sets", "events", "agent_runs"):
            await pool.execute(f"VACUUM ANALYZE {table}")
    counts = {t: await pool.fetchval(f"SELECT count(*) FROM {t}") for t in ("projects", "decision_sets", "events",
                                                                            "agent_runs")}
    return {"inserted_decision_sets": need, "insert_s": round(time.perf_counter() - t0, 2), "rows": counts}


async def long_stream(pool: asyncpg.Pool, n_events: int) -> str:
    """A decision set whose stream has `n_events` events, the last one run-complete."""
    pid, ds = uuid.uuid4(), uuid.uuid4()
    card = await pool.fetchval("SELECT data FROM events WHERE type = 'reason-card' LIMIT 1")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO projects (id, name, ds_count) VALUES ($1, 'bench-replay', 1)", pid)
        await conn.execute("INSERT INTO decision_sets (id, project_id, version, status, stage) "
                           "VALUES ($1, $2, 1, 'completed', 'done')", ds, pid)
        # The bench's caller may read it: the members of the projects the bench itself created.
        await conn.execute("INSERT INTO project_members (project_id, user_id, role) "
                           "SELECT DISTINCT ON (user_id) $1::uuid, user_id, role FROM project_members "
                           "WHERE role = 'owner'", pid)
        await conn.execute(
            "INSERT INTO events (project_id, decision_set_id, run_id, node_name, type, step_key, seq, number, data) "
            "SELECT $1, $2, 'bench', 'planner', 'reason-card', 'replay:' || s, 0, s, $3 "
            "FROM generate_series(1, $4) s", pid, ds, card or {}, n_events - 1)
        await conn.execute(
            "INSERT INTO events (project_id, decision_set_id, run_id, node_name, type, step_key, seq, number, data) "
            "VALUES ($1, $2, 'bench', 'diff_and_persist', 'run-complete', 'replay:end', 0, $4, $3)",
            pid, ds, {"decision_set_id": str(ds), "version": 1, "status": "completed"}, n_events)
    return str(ds)


async def replay(api: Api, ds_id: str, repeats: int) -> dict[str, Any]:
    """Full SSE replay from the start (Last-Event-ID 0) until run-complete."""
    ms, frames = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        _, _, _, frames = await api.until(ds_id, is_complete, last_id=0)
        ms.append((time.perf_counter() - t0) * 1000)
    s = summary(ms)
    return {"events": frames, "ms": s, "us_per_event": round(s["p50"] * 1000 / max(1, frames), 1)}


async def hot_queries(pool: asyncpg.Pool, ds_id: str, repeats: int) -> dict[str, Any]:
    """The store's hot reads, timed directly (µs matter here, so no HTTP)."""
    from amp_runtime import store

    ds = await store.find_decision_set(pool, ds_id)
    key = await pool.fetchval("SELECT idem_key FROM agent_runs WHERE decision_set_id = $1 LIMIT 1", uuid.UUID(ds_id))
    calls = {
        "get_decision_set": lambda: store.get_decision_set(pool, ds_id, project_id=ds["project_id"]),
        "latest_decision_set": lambda: store.latest_decision_set(pool, ds["project_id"]),
        "list_events": lambda: store.list_events(pool, ds_id, project_id=ds["project_id"]),
        "due_gates": lambda: store.due_gates(pool, 24 * 3600.0),
        "get_run": lambda: store.get_run(pool, key or "missing"),
        "parent_cost": lambda: store.parent_cost(pool, ds_id),
    }
    out = {}
    for name, call in calls.items():
        ms = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            await call()
            ms.append((time.perf_counter() - t0) * 1000)
        out[name] = summary(ms)
    return out
