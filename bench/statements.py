"""What a plan round trip asks of Postgres, statement by statement.

    python -m bench.statements [--runs 30] [--top 25] [--out FILE]

CPU per plan summed from `/proc` moves by ±25 % between runs of the same code on a shared
machine; the statements a plan makes, and the time Postgres spends executing them, move far
less. This starts its own platform with `pg_stat_statements` loaded (the embedded server,
restarted once with the library preloaded), warms it up on every scenario text, resets the
statistics, drives `--runs` sequential plan round trips (POST constraints → `gate-waiting`
pre-codegen on SSE) and prints, per plan: statements, their execution time, and the heaviest
statements with their calls, time and rows. Statements run inside functions and triggers
(foreign-key checks) are counted too (`pg_stat_statements.track = all`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import Api, bench_settings, bench_token, scenario_texts

SETTINGS = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"}


async def _sql(url: str, *queries: str) -> list[Any]:
    """Run the queries in order on one connection; the last one's rows."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows: list[Any] = []
        for query in queries:
            rows = await conn.fetch(query)
        return rows
    finally:
        await conn.close()


def start_stack(data_dir: Path) -> Any:
    """An embedded platform whose Postgres records statement statistics."""
    from amp_cli.stack import Stack

    stack = Stack(bench_settings(data_dir))
    stack.start_servers()
    if stack.postgres is None:
        raise SystemExit("bench.statements needs the embedded Postgres (unset DATABASE_URL)")
    url = stack.settings.database_url
    asyncio.run(_sql(url, *(f"ALTER SYSTEM SET {name} = '{value}'" for name, value in SETTINGS.items())))
    stack.postgres.stop()
    stack.postgres.start()
    asyncio.run(_sql(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
    stack.start_services()
    stack.wait_gateway()
    return stack


async def measure(base_url: str, database_url: str, runs: int, top: int) -> dict[str, Any]:
    from . import pipeline

    api = Api(base_url, timeout=120)
    try:
        ctx = pipeline.Ctx(api=api, texts=scenario_texts())
        await pipeline.warm_up(ctx)
        await asyncio.sleep(1.0)  # what the warm-up left in flight (marks, relays) lands before the reset
        await _sql(database_url, "SELECT pg_stat_statements_reset()")
        t0 = time.perf_counter()
        for i in range(runs):
            pid = await api.create_project(f"statements-{i}")
            await pipeline.plan_once(api, pid, ctx.next_text())
        wall_s = time.perf_counter() - t0
        await asyncio.sleep(0.5)  # the background marks of the last plan
        rows = await _sql(database_url,
                          "SELECT calls, total_exec_time, rows, regexp_replace(query, '\\s+', ' ', 'g') AS query "
                          "FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' "
                          "ORDER BY total_exec_time DESC")
    finally:
        await api.close()
    return {
        "runs": runs,
        "plan_ms_mean": round(wall_s * 1000 / runs, 2),
        "statements_per_plan": round(sum(r["calls"] for r in rows) / runs, 2),
        "exec_ms_per_plan": round(sum(r["total_exec_time"] for r in rows) / runs, 3),
        "top": [{"calls_per_plan": round(r["calls"] / runs, 2), "exec_ms_per_plan": round(r["total_exec_time"] / runs, 3),
                 "rows_per_plan": round(r["rows"] / runs, 2), "query": r["query"]} for r in rows[:top]],
    }


def report(r: dict[str, Any], width: int = 110) -> str:
    lines = [f"{r['runs']} sequential plans, {r['plan_ms_mean']} ms each: {r['statements_per_plan']} statements "
             f"and {r['exec_ms_per_plan']} ms of execution in Postgres a plan",
             "", "| calls/plan | exec ms/plan | rows/plan | statement |", "| --- | --- | --- | --- |"]
    for t in r["top"]:
        q = t["query"] if len(t["query"]) <= width else t["query"][: width - 1] + "…"
        lines.append(f"| {t['calls_per_plan']} | {t['exec_ms_per_plan']} | {t['rows_per_plan']} | `{q}` |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.statements")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", type=Path, help="also write the figures as JSON")
    a = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="amp-statements-"))
    tmp.chmod(0o755)
    stack = start_stack(tmp / "data")
    try:
        with bench_token(stack):
            r = asyncio.run(measure(stack.gateway_url, stack.settings.database_url, a.runs, a.top))
    finally:
        stack.stop()
    print(report(r))
    if a.out:
        a.out.write_text(json.dumps(r, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
