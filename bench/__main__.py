"""`python -m bench` / `amp bench`: the pipeline measured against its physical floor.

Starts its own platform (embedded NATS JetStream and Postgres, every agent as its own process,
the gateway) in a temporary data directory unless `--gateway URL` is given, runs the sections
asked for, writes the results as JSON (`bench/results/<date>.json`) and regenerates the results
section of `docs/benchmarks.md`. See docs/benchmarks.md for what each section measures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import ROOT, Api, bench_settings, bench_token, machine, scenario_texts, summary

#: What the artifact table shows of the runs whose Terraform an earlier version had.
SAME_INFRA_SPLITS = ("tool:terraform-validate", "tool:checkov", "tool:terraform-fmt", "tool:mypy", "tool:actionlint",
                     "tool:pytest", "validators step")
SECTIONS = ("plan", "artifact", "floor", "inproc", "growth", "memory", "model", "pure", "load")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="amp bench", description="Benchmarks of the pipeline against its floor.")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run (numbers meaningless)")
    p.add_argument("--runs", type=int, help="sequential plan round trips (default 50, quick 3)")
    p.add_argument("--out", type=Path, help="JSON results (default bench/results/<YYYY-MM-DD>.json; quick: in the "
                                           "temporary data directory)")
    p.add_argument("--only", help=f"comma-separated sections of {','.join(SECTIONS)}")
    p.add_argument("--gateway", help="measure a running platform at this URL instead of starting one")
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                   help="with --gateway: its database, for the sections that read it (default DATABASE_URL)")
    p.add_argument("--nats-url", default=os.environ.get("NATS_URL"), help="with --gateway: its NATS (default NATS_URL)")
    p.add_argument("--docs", type=Path, help="regenerate the results section of this file "
                                            "(default docs/benchmarks.md for a full run, none for --quick)")
    p.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    p.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    p.add_argument("--render", type=Path, metavar="JSON", help="only regenerate the docs section from a results file")
    a = p.parse_args(argv)
    a.sections = tuple(s.strip() for s in a.only.split(",")) if a.only else SECTIONS
    bad = set(a.sections) - set(SECTIONS)
    if bad:
        p.error(f"unknown sections {sorted(bad)}; choose from {','.join(SECTIONS)}")
    return a


class Sizes:
    def __init__(self, quick: bool, runs: int | None) -> None:
        self.runs = runs or (3 if quick else 50)
        self.concurrency = [(2, 1), (4, 1)] if quick else [(8, max(1, self.runs // 12)), (32, max(1, self.runs // 16))]
        self.artifact = 2 if quick else min(self.runs, 20)
        self.floor = 20 if quick else 300
        self.inproc = 2 if quick else min(self.runs, 30)
        self.versions = 3 if quick else 50
        self.stored_runs = 2 if quick else 20
        self.stored_target = 300 if quick else 10_000
        self.replay_events = 200 if quick else 5_000
        self.replay_repeats = 2 if quick else 5
        self.hot_repeats = 10 if quick else 200
        self.settle_s = 1.0 if quick else 5.0
        self.load_clients = 5 if quick else 50
        self.load_seconds = 2.0 if quick else 60.0


async def run(a: argparse.Namespace, z: Sizes, base_url: str, database_url: str | None, nats_url: str | None,
              stack: Any, settings: Any) -> dict[str, Any]:
    from . import floor, inproc, memory, pipeline

    r: dict[str, Any] = {}
    api = Api(base_url, timeout=120)
    pool = None
    if database_url:
        from amp_runtime.db import create_pool

        pool = await create_pool(database_url, max_size=4)
    ctx = pipeline.Ctx(api=api, texts=scenario_texts(), pool=pool)
    try:
        warm = await pipeline.warm_up(ctx)
        _log(f"warm-up: texts {warm['texts']}, first plans {warm['first_plan_ms']}")
        if stack is not None:
            warm["quiet_after_s"] = await asyncio.to_thread(memory.quiet, stack)
            _log(f"the platform was quiet {warm['quiet_after_s']} s after the warm-up")
        if "memory" in a.sections and stack is not None:
            await asyncio.sleep(z.settle_s)
            r["memory"] = {"at_rest": memory.snapshot(stack)}
            _log(f"memory at rest: {r['memory']['at_rest']['total']['rss'] / 2**20:.0f} MiB RSS")
        if "plan" in a.sections:
            pids = await pipeline.new_projects(ctx, z.runs, "seq")
            cpu0 = memory.cpu_times(stack) if stack is not None else None
            seq = await pipeline.plan_sequential(ctx, z.runs, pids)
            if cpu0 is not None:
                seq["cpu_per_plan"] = memory.cpu_delta(cpu0, memory.cpu_times(stack), z.runs)
                _log(f"CPU per plan: {seq['cpu_per_plan']}")
            _log(f"plan sequential: {seq['ms']}")
            conc = []
            for clients, rounds in z.concurrency:
                pids = await pipeline.new_projects(ctx, clients * rounds, f"c{clients}")
                cpu0 = memory.cpu_times(stack) if stack is not None else None
                c = await pipeline.plan_concurrent(ctx, clients, rounds, pids)
                if cpu0 is not None:
                    c["cpu_per_plan"] = memory.cpu_delta(cpu0, memory.cpu_times(stack), c["completed"])
                _log(f"plan {clients} clients: {c['throughput_per_s']}/s {c['ms']}")
                conc.append(c)
            r["plan"] = {"warm_up": warm, "sequential": seq, "concurrent": conc}
        if "artifact" in a.sections:
            if len(ctx.gated) < z.artifact + 1:
                await pipeline.plan_sequential(ctx, z.artifact + 1 - len(ctx.gated))
            # The platform's first validation, like the first plans, is a warm-up: reported, not sampled
            first = await pipeline.artifact(ctx, 1)
            _log(f"first artifact after start: {first['each_ms'][0]} ms")
            cpu0 = memory.cpu_reading(stack) if stack is not None else None
            art = await pipeline.artifact(ctx, z.artifact)
            if cpu0 is not None:
                art["cpu_per_artifact"] = memory.cpu_spent(cpu0, stack, z.artifact)
            art["first"] = {"ms": first["each_ms"][0],
                            "tools_ms": {k: v["max"] for k, v in first["split_ms"].items() if k.startswith("tool:")}}
            _log(f"artifact: {art['ms']}")
            art["nodes"] = await pipeline.node_latency(ctx, art["decision_sets"])
            cpu0 = memory.cpu_reading(stack) if stack is not None else None
            again = await pipeline.artifact_again(ctx, min(z.artifact, 8))
            art["same_infrastructure"] = {"runs": again["runs"], "ms": again["ms"], "by_text_ms": again["by_text_ms"],
                                          "split_ms": {k: v for k, v in again["split_ms"].items()
                                                       if k in SAME_INFRA_SPLITS}}
            if cpu0 is not None:
                art["same_infrastructure"]["cpu_per_artifact"] = memory.cpu_spent(cpu0, stack, again["runs"])
            _log(f"artifact, next version with the same infrastructure: {again['ms']}")
            r["artifact"] = art
        if "floor" in a.sections:
            r["floor"] = await floor.floor(nats_url, database_url, z.floor)
            _log(f"floor: {json.dumps({k: {m: v['p50'] for m, v in d.items() if isinstance(v, dict)} for k, d in r['floor'].items()})}")
        if "inproc" in a.sections and settings is not None:
            pg_cpu = (lambda: memory.cpu_times(stack).get("postgres", 0.0)) if stack is not None else None
            ip = await inproc.inproc(settings, [t["text"] for t in ctx.texts], z.inproc, pg_cpu)
            bus = (r.get("plan") or {}).get("sequential", {}).get("ms", {}).get("p50")
            if bus is None:
                bus = (await pipeline.plan_sequential(ctx, z.inproc))["ms"]["p50"]
            ip["bus_plan_p50_ms"] = bus
            ip["bus_overhead_ratio"] = round(bus / ip["graphs"]["total"]["p50"], 2)
            ip["bus_overhead_ratio_commit"] = round(bus / ip["graphs+commit"]["total"]["p50"], 2)
            _log(f"in-process: {ip['graphs']['total']}; ratio {ip['bus_overhead_ratio']}")
            r["inproc"] = ip
        if "growth" in a.sections:
            r["growth"] = await _growth(ctx, z, pool, r)
        if "pure" in a.sections:
            from . import pure  # lazy: only this section imports every agent's logic into the bench process

            r["pure"] = await asyncio.to_thread(pure.run, [t["text"] for t in scenario_texts()], 3 if a.quick else 30)
            _log(f"pure logic: {r['pure']}")
        if "model" in a.sections:
            from . import model

            texts = [t["text"] for t in scenario_texts() if "AWS" in t["text"]] or [t["text"] for t in scenario_texts()]
            r["model"] = await asyncio.to_thread(model.run, texts, 2 if a.quick else 4)
            _log(f"model: cache reads {r['model']['cache_read_share_later']} of prompt tokens after the first "
                 f"decision set; {r['model']['per_decision_set']}")
        if "load" in a.sections:
            from . import load

            seed = ctx.gated[0].ds_id if ctx.gated else (await api.submit(await api.create_project("bench load seed"),
                                                                          ctx.next_text()))["decision_set_id"]
            r["load"] = await load.run(base_url, dict(api.http.headers), z.load_clients, z.load_seconds, seed)
            for name in ("without_key", "with_key"):
                p = r["load"][name]
                _log(f"load {name}: {p['clients']} clients {p['seconds']:g} s, {p['requests']} requests, "
                     f"{p['throughput_per_s']}/s, p99 {p['ms'].get('p99')} ms, 5xx {p['server_errors']}, "
                     f"no answer {p['no_answer']}, statuses {p['status']}")
            _log(f"load problems: {r['load']['problems'] or 'none'}")
        if "memory" in a.sections and stack is not None:
            await asyncio.sleep(z.settle_s)
            r.setdefault("memory", {})["after"] = memory.snapshot(stack)
    finally:
        await api.close()
        if pool is not None:
            await pool.close()
    return r


async def _growth(ctx: Any, z: Sizes, pool: Any, r: dict[str, Any]) -> dict[str, Any]:
    from . import growth, pipeline

    g: dict[str, Any] = {"versions": await growth.versions(ctx, z.versions)}
    _log(f"versions: first {g['versions']['first']['p50']} last {g['versions']['last']['p50']}")
    if pool is None:
        return g
    probe = (r.get("artifact") or {}).get("decision_sets") or []
    if not probe:
        art = await pipeline.artifact(ctx, 1)
        probe = art["decision_sets"]
    before_n = await growth.stored_count(pool)
    hot_before = await growth.hot_queries(pool, probe[0], z.hot_repeats)
    before = await pipeline.plan_sequential(ctx, z.stored_runs)
    bulk = await growth.bulk_history(pool, z.stored_target)
    _log(f"bulk history: {bulk}")
    after = await pipeline.plan_sequential(ctx, z.stored_runs)
    hot_after = await growth.hot_queries(pool, probe[0], z.hot_repeats)
    g["stored"] = {"before": {"decision_sets": before_n, "ms": before["ms"]},
                   "after": {"decision_sets": await growth.stored_count(pool), "ms": after["ms"]}, "bulk": bulk,
                   "ratio_after_before_p50": round(after["ms"]["p50"] / before["ms"]["p50"], 3)}
    g["hot_queries"] = {"before": hot_before, "after": hot_after}
    long_id = await growth.long_stream(pool, z.replay_events)
    short_id = await growth.long_stream(pool, max(20, z.replay_events // 10))
    rp = {"normal": await growth.replay(ctx.api, probe[0], z.replay_repeats),
          "short": await growth.replay(ctx.api, short_id, z.replay_repeats),
          "long": await growth.replay(ctx.api, long_id, z.replay_repeats)}
    rp["per_event_ratio"] = round(rp["long"]["us_per_event"] / rp["short"]["us_per_event"], 3)
    g["replay"] = rp
    _log(f"stored ratio {g['stored']['ratio_after_before_p50']}, replay {rp['long']['ms']['p50']} ms "
         f"for {rp['long']['events']} events")
    return g


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    if a.render:
        from .report import update_docs

        update_docs(a.docs or ROOT / "docs" / "benchmarks.md", json.loads(a.render.read_text()))
        return 0
    z = Sizes(a.quick, a.runs)
    started = dt.datetime.now(dt.UTC)
    host = machine()
    stack = settings = sampler = None
    tmp: Path | None = None
    signed_in = contextlib.ExitStack()  # the bench's token while its own platform runs
    if a.gateway:
        base_url, database_url, nats_url = a.gateway, a.database_url, a.nats_url
        if database_url:
            from amp_runtime.settings import Settings

            settings = Settings(database_url=database_url, nats_url=nats_url)
    else:
        from amp_cli.stack import Stack

        from .memory import Sampler

        tmp = Path(tempfile.mkdtemp(prefix="amp-bench-"))
        tmp.chmod(0o755)
        stack = Stack(bench_settings(tmp / "data"))
        t0 = time.perf_counter()
        try:
            stack.start()
        except BaseException:
            stack.stop()
            raise
        _log(f"stack up in {time.perf_counter() - t0:.1f} s at {stack.gateway_url} (data {tmp})")
        signed_in.enter_context(bench_token(stack))
        settings = stack.settings
        base_url, database_url, nats_url = stack.gateway_url, settings.database_url, settings.nats_url
        sampler = Sampler(stack).start()
    try:
        results = asyncio.run(run(a, z, base_url, database_url, nats_url, stack, settings))
        if sampler is not None and "memory" in results:
            results["memory"]["peak"] = sampler.stop()
    finally:
        if sampler is not None:
            sampler.stop()
        if stack is not None:
            stack.stop()
        signed_in.close()
        if tmp is not None and not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    from .report import floor_estimate, targets, update_docs

    out = a.out or (Path(tempfile.gettempdir()) / f"amp-bench-quick-{started:%Y%m%d-%H%M%S}.json" if a.quick
                    else ROOT / "bench" / "results" / f"{started:%Y-%m-%d}.json")
    doc = {"started_at": started.isoformat(timespec="seconds"), "argv": list(argv or []), "quick": a.quick,
           "provider": getattr(settings, "provider", "deterministic") if settings else "unknown",
           "gateway": a.gateway or "embedded stack", "machine": host, "sizes": vars(z),
           "out": _rel(out), **results}
    doc["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    doc["floor_estimate"] = floor_estimate(doc)
    doc["targets"] = targets(doc)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    docs = a.docs or (None if a.quick else ROOT / "docs" / "benchmarks.md")
    if docs is not None and not a.no_docs:
        update_docs(docs, doc)
    for t in doc["targets"]:
        _log(f"{'met   ' if t['met'] else 'MISSED'} {t['target']}: {t['measured']} {t['unit']} (limit {t['limit']})")
    _log(f"results in {out}")
    return 0


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


__all__ = ["main", "summary"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
