"""`amp bench --quick` runs end to end (its own platform, tiny sizes) so the benchmark never rots.
The numbers are not asserted: only that every section produced its measurements."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.mark.timeout(600)
def test_bench_quick(tmp_path: Path) -> None:
    from bench.__main__ import main

    out, docs = tmp_path / "bench.json", tmp_path / "benchmarks.md"
    assert main(["--quick", "--out", str(out), "--docs", str(docs)]) == 0
    r = json.loads(out.read_text())
    assert r["machine"]["nproc"] >= 1
    assert r["plan"]["sequential"]["ms"]["n"] == 3
    assert [c["clients"] for c in r["plan"]["concurrent"]] == [2, 4]
    assert r["artifact"]["ms"]["n"] == 2 and r["artifact"]["split_ms"]
    assert len(r["artifact"]["each_ms"]) == 2 and abs(max(r["artifact"]["each_ms"]) - r["artifact"]["ms"]["max"]) < 0.1
    assert r["plan"]["warm_up"]["quiet_after_s"] >= 0.5  # at least one window measured
    first = r["artifact"]["first"]  # the platform's first validation: a warm-up, reported beside the sample
    assert first["ms"] > 0 and "tool:pytest" in first["tools_ms"]
    assert "The platform's first artifact round trip" in docs.read_text()
    assert r["artifact"]["nodes"]["timeline_ms"] and r["artifact"]["nodes"]["checkpoints"]
    parts = r["artifact"]["by_text_ms"]  # each run as its text's first project on the platform, or a later one
    assert set(parts) <= {"first", "again"} and sum(p["n"] for p in parts.values()) == 2
    again = r["artifact"]["same_infrastructure"]  # the next version of those projects, same text
    assert again["runs"] == 2 and again["ms"]["n"] == 2 and "validators step" in again["split_ms"]
    assert set(again["by_text_ms"]) == {"again"} and again["by_text_ms"]["again"]["n"] == 2  # texts seen above
    assert "The next version of 2 of those projects" in docs.read_text()
    assert again["cpu_per_artifact"]["total_ms"] > 0 and "CPU per next version's artifact" in docs.read_text()
    cpu = r["artifact"]["cpu_per_artifact"]  # the whole machine's, sandboxed tools included, and by process
    assert cpu["machine_ms"] > 0 and cpu["total_ms"] > 0 and "on the whole machine" in docs.read_text()
    assert r["floor"]["nats"]["hop_ms"]["n"] and r["floor"]["postgres"]["insert_ms"]["n"]
    assert r["inproc"]["bus_overhead_ratio"] > 0
    assert set(r["inproc"]["graphs+commit"]["cpu_per_plan_ms"]) == {"this process", "postgres"}
    assert "CPU per plan in one process" in docs.read_text()
    assert "CPU per plan round trip (sequential, every process)" in {t["target"] for t in r["targets"]}
    assert r["growth"]["versions"]["versions"] == 3
    assert r["growth"]["replay"]["long"]["events"] == 200
    assert r["memory"]["at_rest"]["total"]["rss"] > 0
    tools = r["memory"]["after"]["tool_processes"]  # warm checkov and providers, where this host has them
    assert (tools["rss"] > 0) == (tools["processes"] > 0)
    estimates = r["model"]["estimate_vs_actual"]
    assert [e["version"] for e in estimates] == [1, 2]  # every version estimated before it spent, and its spend
    assert all(e["estimate_tokens"] > 0 and e["actual_tokens"] > 0 for e in estimates)
    assert "pre-run estimate against the run" in docs.read_text()
    assert r["pure"]["extract_ms"]["n"] and r["pure"]["pathological_worst_ms"] > 0
    for key in ("token_first_check_us", "token_cached_check_us"):  # what a bearer token costs a request
        assert r["pure"][key]["n"] and math.isfinite(r["pure"][key]["p50"]), key
    measured = {t["target"]: t["measured"] for t in r["targets"]}
    assert math.isfinite(measured["bearer token first check p50 (signature)"])
    assert math.isfinite(measured["bearer token repeated check p50 (verified-token cache)"])
    assert "bearer token check, µs" in docs.read_text()
    assert r["load"]["problems"] == [] and r["load"]["with_key"]["ms"]["p99"] is not None
    assert {t["target"] for t in r["targets"]}
    assert "bench:results:begin" in docs.read_text()


@pytest.mark.timeout(300)
def test_bench_statements(tmp_path: Path) -> None:
    """`python -m bench.statements` counts what a plan asks of Postgres: one step record per step."""
    from bench.statements import main

    out = tmp_path / "statements.json"
    assert main(["--runs", "2", "--top", "100", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["runs"] == 2 and r["statements_per_plan"] > 0 and r["exec_ms_per_plan"] > 0
    records = [t for t in r["top"] if t["query"].startswith("WITH run AS (INSERT INTO agent_runs")]
    assert [t["calls_per_plan"] for t in records] == [5.0]  # intake, planner, critics, policy, the gate
