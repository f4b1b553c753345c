"""`python -m bench.ab --base REV [--head REV] [--rounds 4] [--plans 100]`: the plan round trip's CPU
of two revisions, measured alternately on this machine.

On a shared machine the CPU a plan costs moves by a third between runs of the same code an hour
apart, more than most changes move it; one revision measured now and another later compares the
hours, not the code. Here each round measures both revisions back to back (in alternating order),
each on a platform of its own started from a checkout of that revision, and the report gives each
revision's median and the median of the rounds' differences.

A revision is measured with that revision's own code (its checkout comes first on PYTHONPATH, for
every process of its platform) and that revision's own bench client; the packages it needs are the
ones installed here. `--head` defaults to the working tree as it is (uncommitted changes included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import ROOT

#: Run in the measured revision's checkout: starts its platform, warms it up, then reads every
#: process's CPU over `plans` sequential plan round trips. Only what every revision of the bench has.
_MEASURE = r"""
import asyncio, json, sys, tempfile
from pathlib import Path
from amp_cli.stack import Stack
from bench.common import Api, bench_settings, bench_token, scenario_texts
from bench.memory import cpu_delta, cpu_times
from bench.pipeline import Ctx, plan_once, warm_up

plans = int(sys.argv[1])
data = Path(tempfile.mkdtemp(prefix="amp-ab-"))
data.chmod(0o755)
stack = Stack(bench_settings(data / "data"), env={"OTEL_TRACES_EXPORTER": "none"}).start()

async def run():
    api = Api(stack.gateway_url)
    ctx = Ctx(api=api, texts=scenario_texts())
    try:
        await warm_up(ctx)
        for _ in range(10):
            await plan_once(api, await api.create_project("ab-warm"), ctx.next_text())
        pids = [await api.create_project("ab") for _ in range(plans)]  # not part of a plan round trip
        before = cpu_times(stack)
        for pid in pids:
            await plan_once(api, pid, ctx.next_text())
        return cpu_delta(before, cpu_times(stack), plans)
    finally:
        await api.close()

try:
    with bench_token(stack):
        print("AB-RESULT " + json.dumps(asyncio.run(run())))
finally:
    stack.stop()
"""


def checkout(rev: str, into: Path) -> Path:
    """A detached checkout of `rev` (the working tree itself for "."), for measuring only."""
    if rev == ".":
        return ROOT
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(into), rev],
                   check=True, capture_output=True)
    return into


def measure(tree: Path, plans: int) -> dict[str, Any]:
    """One platform of the checkout `tree`, `plans` round trips: CPU ms per plan, in all and by process."""
    paths = [tree / "libs" / p for p in ("contracts", "domain", "runtime", "cli")] + [tree]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in paths)}
    env.pop("AMP_TOKEN", None)
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(plans)], cwd=tree, env=env, capture_output=True,
                         text=True, timeout=900)
    for line in out.stdout.splitlines():
        if line.startswith("AB-RESULT "):
            return json.loads(line.removeprefix("AB-RESULT "))
    raise RuntimeError(f"measuring {tree} failed (exit {out.returncode}): {out.stderr[-2000:]}")


def report(base: str, head: str, rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Each revision's median CPU per plan and the median of the rounds' differences, in all and by process
    (a process whose code a change touches shows it there even when the total's noise hides it)."""
    def med(rev: str, key: str | None = None) -> float:
        return round(statistics.median(
            r[rev]["total_ms"] if key is None else r[rev]["by_process_ms"].get(key, 0.0) for r in rounds), 1)

    def share(rev: str, key: str) -> float:
        return round(100 * statistics.median(r[rev]["by_process_ms"].get(key, 0.0) / r[rev]["total_ms"]
                                             for r in rounds), 2)

    processes = sorted({k for r in rounds for rev in (base, head) for k in r[rev]["by_process_ms"]})
    return {"base": base, "head": head, "rounds": len(rounds),
            "cpu_per_plan_ms": {base: med(base), head: med(head)},
            "head_minus_base_ms": round(statistics.median(r[head]["total_ms"] - r[base]["total_ms"]
                                                          for r in rounds), 1),
            "each_round_ms": [[r[base]["total_ms"], r[head]["total_ms"]] for r in rounds],
            "by_process_ms": {p: {base: med(base, p), head: med(head, p),
                                  "head_minus_base": round(statistics.median(
                                      r[head]["by_process_ms"].get(p, 0.0) - r[base]["by_process_ms"].get(p, 0.0)
                                      for r in rounds), 1)} for p in processes},
            # The machine's speed moves every process of a measurement together, so a change confined to
            # one process shows more clearly in that process's share of the whole than in its milliseconds.
            "share_of_total_pct": {p: {base: share(base, p), head: share(head, p)} for p in processes}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab")
    p.add_argument("--base", required=True, help="the revision to compare against (a commit, a branch)")
    p.add_argument("--head", default=".", help="the revision measured against it (default: the working tree)")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--plans", type=int, default=100, help="sequential plan round trips per measurement")
    a = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="amp-ab-trees-"))
    trees: dict[str, Path] = {}
    try:
        for name, rev in (("base", a.base), ("head", a.head)):
            trees[rev] = checkout(rev, tmp / name)
        rounds: list[dict[str, dict[str, Any]]] = []
        for i in range(a.rounds):
            order = [a.base, a.head] if i % 2 == 0 else [a.head, a.base]
            got = {rev: measure(trees[rev], a.plans) for rev in order}
            rounds.append(got)
            print(f"round {i + 1}: " + ", ".join(f"{rev} {got[rev]['total_ms']} ms" for rev in order), flush=True)
        print(json.dumps(report(a.base, a.head, rounds), indent=2))
    finally:
        for tree in trees.values():
            if tree != ROOT:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
