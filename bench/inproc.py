"""The same agents without the bus: each service's route handlers (its LangGraph subgraph built by
`build_graph` over an AsyncPostgresSaver) called in one process, intake → planner → critics →
policy → codegen gate, each step's output message handed straight to the next handler.

Two variants: `graphs` (handlers only: no NATS, no SSE, no step commit) and `graphs+commit` (plus
the step protocol's commit transaction, still without NATS), so the bus's own share can be told
apart from the database's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from amp_cli.main import prompt_dirs
from amp_contracts import Envelope, IntakeRequested, Subjects
from amp_runtime import store
from amp_runtime.agent import Deps
from amp_runtime.artifacts import artifact_store
from amp_runtime.bootstrap import open_checkpointer
from amp_runtime.db import create_pool
from amp_runtime.providers import PackRegistry, providers_from_settings
from amp_runtime.reader import PgReader
from amp_runtime.settings import Settings
from amp_runtime.step import _commit, step_key
from amp_runtime.step_store import PostgresStepStore

from .common import summary

SERVICES = ("intake", "planner", "critics", "policy", "codegen")


def _routes(deps: Deps) -> dict[str, tuple[str, Any]]:
    import importlib

    out: dict[str, tuple[str, Any]] = {}
    for svc in SERVICES:
        mod = importlib.import_module(f"services.{svc}.app")
        for route in mod.routes(deps):
            out[route.subject] = (svc, route)
    return out


async def _chain(deps: Deps, routes: dict[str, tuple[str, Any]], text: str, commit: bool) -> dict[str, float]:
    """One plan, submit → pre-codegen gate; per-service milliseconds and the total."""
    async with deps.pool.acquire() as conn, conn.transaction():
        project = await store.create_project(conn, "bench-inproc")
        ds = await store.create_decision_set(conn, project["id"], requirements=text)
    env: Envelope = Envelope[IntakeRequested](project_id=project["id"], decision_set_id=ds["id"],
                                              run_id=str(uuid.uuid4()), payload=IntakeRequested(text=text))
    subject = Subjects.INTAKE_REQUESTED
    per: dict[str, float] = {}
    steps = PostgresStepStore(deps.pool, deps.js)  # the commit only: nothing is published here
    t_all = time.perf_counter()
    for _ in range(20):
        svc, route = routes[subject]
        t0 = time.perf_counter()
        key = step_key(env, svc, route.node)
        result = await route.handler(env, key)
        if commit:
            await _commit(steps, svc, route.node, env, key, result, (time.perf_counter() - t0) * 1000)
        per[svc] = per.get(svc, 0.0) + (time.perf_counter() - t0) * 1000
        if any(e.type == "gate-waiting" and e.data.get("gate") == "pre-codegen" for e in result.events):
            per["total"] = (time.perf_counter() - t_all) * 1000
            return per
        if any(e.type == "gate-waiting" for e in result.events) or not result.messages:
            raise RuntimeError(f"the in-process chain stopped at {svc}:{route.node}")
        subject, env = result.messages[0]
    raise RuntimeError("the in-process chain did not reach the gate in 20 steps")


async def inproc(settings: Settings, texts: list[str], runs: int,
                 postgres_cpu_s: Callable[[], float] | None = None) -> dict[str, Any]:
    """Both variants, `runs` plans each; with `postgres_cpu_s` (Postgres's CPU seconds so far), also
    the CPU a plan costs there and in this process: what the same steps cost without the bus."""
    pool = await create_pool(settings.database_url)  # type: ignore[arg-type]
    saver, saver_pool = await open_checkpointer(settings.database_url)  # type: ignore[arg-type]
    artifacts = artifact_store(settings.artifacts_dir)
    providers = providers_from_settings(settings, artifacts, PackRegistry(prompt_dirs()))  # as open_deps wires it
    deps = Deps(settings=settings, pool=pool, nc=None, js=None, checkpointer=saver,  # type: ignore[arg-type]
                artifacts=artifacts, providers=providers, reader=PgReader(pool))
    out: dict[str, Any] = {}
    try:
        routes = _routes(deps)
        for t in texts:  # warm-up: imports, caches
            await _chain(deps, routes, t, commit=True)
        for variant, commit in (("graphs", False), ("graphs+commit", True)):
            cpu0, pg0 = time.process_time(), postgres_cpu_s() if postgres_cpu_s is not None else 0.0
            samples = [await _chain(deps, routes, texts[i % len(texts)], commit) for i in range(runs)]
            keys = sorted({k for s in samples for k in s}, key=lambda k: (k == "total", k))
            out[variant] = {k: summary([s[k] for s in samples if k in s]) for k in keys}
            if postgres_cpu_s is not None:
                out[variant]["cpu_per_plan_ms"] = {
                    "this process": round((time.process_time() - cpu0) * 1000 / runs, 1),
                    "postgres": round((postgres_cpu_s() - pg0) * 1000 / runs, 1)}
    finally:
        await saver_pool.close()
        await pool.close()
    return out
