"""Round trips through the running platform: plan (submit → pre-codegen gate on SSE), artifact
(approve → run-complete), and the per-node timeline and checkpoint writes behind them."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from .common import Api, is_complete, is_gate, summary


@dataclass
class Gated:
    """A decision set waiting at the pre-codegen gate after a timed plan round trip."""

    ds_id: str
    project_id: str
    ms: float
    gate: dict[str, Any]
    last_id: int | None
    text: str = ""


@dataclass
class Ctx:
    api: Api
    texts: list[dict[str, str]]
    pool: asyncpg.Pool | None = None
    gated: list[Gated] = field(default_factory=list)  # plan runs left at the gate, for the artifact bench
    artifacts: list[Gated] = field(default_factory=list)  # approved and run to completion
    validated: set[str] = field(default_factory=set)  # texts whose artifact this platform has completed
    _cycle: Any = None

    def next_text(self) -> str:
        if self._cycle is None:
            self._cycle = itertools.cycle(self.texts)
        return next(self._cycle)["text"]


async def plan_once(api: Api, project_id: str, text: str) -> Gated:
    t0 = time.perf_counter()
    sub = await api.submit(project_id, text)
    _, data, eid, _ = await api.until(sub["decision_set_id"], is_gate)
    return Gated(sub["decision_set_id"], project_id, (time.perf_counter() - t0) * 1000, data, eid, text)


async def warm_up(ctx: Ctx) -> dict[str, Any]:
    """One plan per text: loads every lazy import and cache, and keeps only texts that need no answers."""
    kept, dropped, cold = [], [], {}
    for sc in ctx.texts:
        pid = await ctx.api.create_project(f"bench-warm-{sc['id']}")
        try:
            g = await plan_once(ctx.api, pid, sc["text"])
        except RuntimeError as e:
            dropped.append({"id": sc["id"], "why": str(e)[:200]})
            continue
        cold[sc["id"]] = round(g.ms, 1)
        kept.append(sc)
    if not kept:
        raise RuntimeError(f"no scenario text reached the pre-codegen gate: {dropped}")
    ctx.texts, ctx._cycle = kept, None
    return {"texts": [s["id"] for s in kept], "dropped": dropped, "first_plan_ms": cold}


async def new_projects(ctx: Ctx, n: int, label: str) -> list[str]:
    """Projects for `n` plan round trips, made before they are measured: creating a project is not
    part of a plan round trip (POST constraints → the gate), and its request would count in the
    CPU read around them."""
    return [await ctx.api.create_project(f"bench-{label}-{i}") for i in range(n)]


async def plan_sequential(ctx: Ctx, runs: int, projects: list[str] | None = None) -> dict[str, Any]:
    out: list[Gated] = []
    for pid in projects if projects is not None else await new_projects(ctx, runs, "seq"):
        out.append(await plan_once(ctx.api, pid, ctx.next_text()))
    ctx.gated.extend(out)
    return {"runs": runs, "ms": summary([g.ms for g in out])}


async def plan_concurrent(ctx: Ctx, clients: int, rounds: int, projects: list[str] | None = None) -> dict[str, Any]:
    """`clients` users at once, each doing `rounds` plan round trips back to back."""
    pids = projects if projects is not None else await new_projects(ctx, clients * rounds, f"c{clients}")
    texts = [ctx.next_text() for _ in pids]
    lat: list[float] = []
    errors: list[str] = []

    async def user(k: int) -> None:
        for r in range(rounds):
            j = k * rounds + r
            try:
                lat.append((await plan_once(ctx.api, pids[j], texts[j])).ms)
            except Exception as e:  # noqa: BLE001 - counted, not fatal
                errors.append(str(e)[:200])

    t0 = time.perf_counter()
    await asyncio.gather(*(user(k) for k in range(clients)))
    wall = time.perf_counter() - t0
    return {"clients": clients, "rounds": rounds, "completed": len(lat), "errors": errors[:5],
            "wall_s": round(wall, 3), "throughput_per_s": round(len(lat) / wall, 2), "ms": summary(lat)}


async def artifact(ctx: Ctx, runs: int) -> dict[str, Any]:
    """Approve gated decision sets one at a time; time approve → run-complete and split it by stage."""
    while len(ctx.gated) < runs:
        pid = await ctx.api.create_project("bench-artifact")
        ctx.gated.append(await plan_once(ctx.api, pid, ctx.next_text()))
    todo, ctx.gated = ctx.gated[:runs], ctx.gated[runs:]
    out = await _approve_each(ctx, todo)
    ctx.artifacts.extend(todo)
    return out


async def artifact_again(ctx: Ctx, runs: int) -> dict[str, Any]:
    """The next version of projects the artifact bench finished, from the same text: the same
    infrastructure, so the validators' remembered Terraform and checkov verdicts answer for it."""
    todo = [await plan_once(ctx.api, g.project_id, g.text) for g in ctx.artifacts[:runs]]
    return await _approve_each(ctx, todo)


async def _approve_each(ctx: Ctx, todo: list[Gated]) -> dict[str, Any]:
    total: list[float] = []
    splits: dict[str, list[float]] = defaultdict(list)
    by_text: dict[str, list[float]] = defaultdict(list)  # the text's first project here, or a later one
    done_ids = []
    for g in todo:
        t0 = time.perf_counter()
        wall0 = time.time()
        await ctx.api.approve(g.ds_id, g.gate)
        _, data, _, _ = await ctx.api.until(g.ds_id, is_complete, last_id=g.last_id)
        wall1 = time.time()
        total.append((time.perf_counter() - t0) * 1000)
        if data.get("status") != "completed":
            raise RuntimeError(f"decision set {g.ds_id} ended {data.get('status')}")
        done_ids.append(g.ds_id)
        by_text["first" if g.text not in ctx.validated else "again"].append(total[-1])
        ctx.validated.add(g.text)
        ds = await ctx.api.get(f"/decision-sets/{g.ds_id}")
        tools = (((ds.get("reports") or {}).get("validation") or {}).get("tools")) or []
        for t in tools:
            splits[f"tool:{t['tool']}"].append(float(t.get("duration_ms") or 0))
        tool_max = max((float(t.get("duration_ms") or 0) for t in tools), default=0.0)  # they run in parallel
        if ctx.pool is not None:
            for k, v in (await _artifact_split(ctx.pool, g.ds_id, wall0, wall1, tool_max)).items():
                splits[k].append(v)
    return {"runs": len(todo), "ms": summary(total), "split_ms": {k: summary(v) for k, v in splits.items()},
            "each_ms": [round(t, 1) for t in total], "decision_sets": done_ids,
            "by_text_ms": {k: summary(v) for k, v in by_text.items()}}


async def _artifact_split(pool: asyncpg.Pool, ds_id: str, wall0: float, wall1: float, tool_max: float
                          ) -> dict[str, float]:
    """From the approval's and the steps' commit times (agent_runs): queue + bus, compute, delivery."""
    rows = await pool.fetch(
        "SELECT service, node, duration_ms, extract(epoch from created_at) AS t FROM agent_runs "
        "WHERE decision_set_id = $1 ORDER BY created_at", _uuid(ds_id))
    by = {(r["service"], r["node"]): r for r in rows}
    cg, va = by.get(("codegen", "process_approval_feedback")), by.get(("validators", "validators"))
    if cg is None or va is None:
        return {}
    cg_t, va_t = float(cg["t"]), float(va["t"])
    cg_start, va_start = cg_t - cg["duration_ms"] / 1000, va_t - va["duration_ms"] / 1000
    return {
        "approve → codegen start (HTTP, outbox, bus)": (cg_start - wall0) * 1000,
        "codegen step (resume gate, render tree, store)": cg["duration_ms"],
        "codegen commit → validators start (bus)": (va_start - cg_t) * 1000,
        "validators step": va["duration_ms"],
        "validators: slowest tool (the tools run in parallel)": tool_max,
        "validators: rest (other tools' tail, rationale, persist, graph)": va["duration_ms"] - tool_max,
        "validators commit → run-complete on SSE": (wall1 - va_t) * 1000,
    }


def _uuid(s: str) -> Any:
    import uuid

    return uuid.UUID(s)


def _ts(v: Any) -> float:
    return datetime.fromisoformat(str(v).replace("Z", "+00:00")).timestamp()


async def node_latency(ctx: Ctx, ds_ids: list[str]) -> dict[str, Any]:
    """Per node, from the events timeline: the time from the previous node's last event to this
    node's first event (the step's compute plus its hop); and each step's compute from agent_runs."""
    gaps: dict[str, list[float]] = defaultdict(list)
    for ds_id in ds_ids:
        events = await ctx.api.events(ds_id)
        ds = await ctx.api.get(f"/decision-sets/{ds_id}")
        prev_t = _ts(ds["created_at"]) if ds.get("created_at") else None
        prev_node = None
        for ev in events:
            t = _ts(ev["ts"])
            if ev["node_name"] != prev_node:
                if prev_t is not None:
                    gaps[ev["node_name"]].append((t - prev_t) * 1000)
                prev_node = ev["node_name"]
            prev_t = t
    out: dict[str, Any] = {"timeline_ms": {k: summary(v) for k, v in gaps.items()}}
    if ctx.pool is not None and ds_ids:
        rows = await ctx.pool.fetch(
            "SELECT service || ':' || node AS step, duration_ms FROM agent_runs WHERE decision_set_id = ANY($1::uuid[])",
            ds_ids)
        steps: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            steps[r["step"]].append(r["duration_ms"])
        out["step_compute_ms"] = {k: summary(v) for k, v in sorted(steps.items())}
        out["checkpoints"] = await checkpoint_counts(ctx.pool, ds_ids)
        out["plan_steps_mean"] = round(await ctx.pool.fetchval(
            "SELECT count(*)::float / $2 FROM agent_runs WHERE decision_set_id = ANY($1::uuid[]) "
            "AND service <> 'validators' AND node <> 'process_approval_feedback'", ds_ids, len(ds_ids)), 2)
    return out


async def checkpoint_counts(pool: asyncpg.Pool, ds_ids: list[str]) -> dict[str, Any]:
    """LangGraph checkpoint rows (and pending writes) per thread `{ds}/{service}`, averaged per service."""
    per: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for table in ("checkpoints", "checkpoint_writes", "checkpoint_blobs"):
        try:
            rows = await pool.fetch(
                f"SELECT thread_id, count(*) AS n FROM {table} WHERE thread_id = ANY($1::text[]) GROUP BY thread_id",
                [f"{d}/{s}" for d in ds_ids for s in ("intake", "planner", "critics", "policy", "codegen",
                                                       "validators")])
        except asyncpg.UndefinedTableError:
            continue
        for r in rows:
            per[r["thread_id"].rsplit("/", 1)[1]][table].append(r["n"])
    n = max(1, len(ds_ids))
    return {svc: {t: round(sum(v) / n, 2) for t, v in tables.items()} for svc, tables in sorted(per.items())}
