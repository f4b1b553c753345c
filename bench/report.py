"""Targets, and the results as the generated section of docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
GIB = 2**30


def _get(d: dict, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def floor_estimate(r: dict[str, Any]) -> dict[str, Any] | None:
    """What the plan round trip would cost if our code were free: one JetStream hop and one
    Postgres transaction per step, plus the gateway's own (submit transaction, event to SSE)."""
    hop = _get(r, "floor", "nats", "hop_ms", "p50")
    txn = _get(r, "floor", "postgres", "insert_txn_ms", "p50")
    steps = _get(r, "artifact", "nodes", "plan_steps_mean")
    plan = _get(r, "plan", "sequential", "ms", "p50")
    if None in (hop, txn, steps, plan):
        return None
    floor = (steps + 1) * (hop + txn)
    return {"steps": steps, "floor_ms": round(floor, 2), "plan_p50_ms": plan,
            "our_code_share": round(1 - floor / plan, 3)}


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, value: Any, limit: float, le: bool = True, unit: str = "") -> None:
        if value is None:
            return
        met = value <= limit if le else value >= limit
        out.append({"target": name, "measured": value, "limit": limit, "unit": unit, "met": bool(met), "le": le})

    seq = _get(r, "plan", "sequential", "ms") or {}
    add("plan round trip p50 (sequential)", seq.get("p50"), 45, unit="ms")
    add("plan round trip p95 (sequential)", seq.get("p95"), 200, unit="ms")
    add("CPU per plan round trip (sequential, every process)",
        _get(r, "plan", "sequential", "cpu_per_plan", "total_ms"), 40, unit="ms")
    c32 = next((c for c in _get(r, "plan", "concurrent") or [] if c["clients"] == 32), None)
    if c32:
        add("plan round trips/s at 32 clients", c32["throughput_per_s"], 45, le=False, unit="/s")
        add("plan round trip p95 at 32 clients", c32["ms"].get("p95"), 1000, unit="ms")
    add("artifact round trip p95 (validators included)", _get(r, "artifact", "ms", "p95"), 2500, unit="ms")
    add("bus overhead ratio (median plan, bus / in-process)", _get(r, "inproc", "bus_overhead_ratio"), 1.3)
    add("version N / version 1 plan round trip (trend over every version)", _get(r, "growth", "versions", "trend_ratio"),
        1.2)
    add("plan p50 with 10k stored / before", _get(r, "growth", "stored", "ratio_after_before_p50"), 1.2)
    add("SSE replay cost per event, long / short stream", _get(r, "growth", "replay", "per_event_ratio"), 1.2)
    add("requirement extraction p50 (pure)", _get(r, "pure", "extract_ms", "p50"), 5, unit="ms")
    add("plan → critique → cost → policy p50 (pure)", _get(r, "pure", "plan_pipeline_ms", "p50"), 20, unit="ms")
    add("repository rendering p50 (pure)", _get(r, "pure", "render_ms", "p50"), 50, unit="ms")
    add("slowest adversarial extraction input", _get(r, "pure", "pathological_worst_ms"), 2000, unit="ms")
    add("bearer token first check p50 (signature)", _get(r, "pure", "token_first_check_us", "p50"), 1000, unit="µs")
    add("bearer token repeated check p50 (verified-token cache)", _get(r, "pure", "token_cached_check_us", "p50"),
        50, unit="µs")
    for name in ("without_key", "with_key"):
        lp = _get(r, "load", name) or {}
        if lp:
            label = "with Idempotency-Key" if lp.get("keyed") else "without Idempotency-Key"
            add(f"REST load {lp['clients']} clients {lp['seconds']:g} s {label}: 5xx + unanswered",
                lp["server_errors"] + sum(lp["no_answer"].values()) + lp["hung_clients"], 0)
    rest = _get(r, "memory", "at_rest", "total", "rss")
    if rest is not None:
        add("whole `amp up` RSS at rest", round(rest / GIB, 3), 1.5, unit="GiB")
    add("cache reads / prompt tokens, 2nd and later decision sets (model)",
        _get(r, "model", "cache_read_share_later"), 0.5, le=False)
    return out


def _ms(s: dict[str, Any] | None, *keys: str) -> list[str]:
    s = s or {}
    return ["" if s.get(k) is None else f"{s[k]:.1f}" for k in keys]


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [BEGIN, "", f"Run {r['started_at']} (`{' '.join(['amp bench', *r['argv']])}`), results in "
             f"`{r['out']}`.", "",
             f"Machine: {m['nproc']} × {m['cpu_model']}, {m['mem_gib']} GiB memory, Python {m['python']}, "
             f"{m['platform']}. Provider: {r['provider']}. Everything (NATS, Postgres, six agents, the gateway "
             "and the bench client) shares these cores. Load average (1 min) at start "
             f"{(m.get('loadavg_at_start') or ['?'])[0]}, at end {(m.get('loadavg_at_end') or ['?'])[0]}.", ""]
    t = r.get("targets") or []
    if t:
        lines += ["### Targets", "", _row(["target", "measured", "limit", "met"]), _row(["---"] * 4)]
        for x in t:
            cmp_ = "≤" if x.get("le", True) else "≥"
            lines.append(_row([x["target"], f"{x['measured']} {x['unit']}".strip(), f"{cmp_} {x['limit']} {x['unit']}".strip(),
                               "met" if x["met"] else "**missed**"]))
        lines.append("")
    plan = r.get("plan")
    if plan:
        lines += ["### 1. Plan round trip (POST constraints → `gate-waiting` pre-codegen on SSE), ms", "",
                  _row(["load", "runs", "p50", "p95", "p99", "max", "throughput /s"]), _row(["---"] * 7)]
        s = plan["sequential"]
        lines.append(_row(["sequential", s["runs"], *_ms(s["ms"], "p50", "p95", "p99", "max"), ""]))
        for c in plan.get("concurrent", []):
            lines.append(_row([f"{c['clients']} clients", c["completed"], *_ms(c["ms"], "p50", "p95", "p99", "max"),
                               c["throughput_per_s"]]))
        cpu = s.get("cpu_per_plan")
        if cpu:
            top = ", ".join(f"{k} {v}" for k, v in list(cpu["by_process_ms"].items())[:8])
            lines += ["", f"CPU per plan round trip (sequential, every process of the platform): **{cpu['total_ms']} ms** "
                      f"({top}); the CPU-bound ceiling on {m['nproc']} cores is "
                      f"**{m['nproc'] * 1000 / cpu['total_ms']:.1f} plans/s** whatever the concurrency."]
            for c in plan.get("concurrent", []):
                if c.get("cpu_per_plan"):
                    lines.append(f"At {c['clients']} clients: {c['cpu_per_plan']['total_ms']} ms CPU per plan.")
        w = plan.get("warm_up") or {}
        if w.get("first_plan_ms"):
            lines += ["", "First (cold) plan per text after start, ms: " +
                      ", ".join(f"{k} {v}" for k, v in w["first_plan_ms"].items()) + "."]
        lines.append("")
    load = r.get("load")
    if load:
        lines += [f"### REST load: {load['clients']} concurrent clients for {load['seconds']:g} s each, ms", "",
                  _row(["phase", "requests", "/s", "p50", "p95", "p99", "max", "5xx", "no answer", "statuses"]),
                  _row(["---"] * 10)]
        for name in ("without_key", "with_key"):
            p = load[name]
            lines.append(_row(["with Idempotency-Key" if p["keyed"] else "without Idempotency-Key", p["requests"],
                               p["throughput_per_s"], *_ms(p["ms"], "p50", "p95", "p99", "max"), p["server_errors"],
                               sum(p["no_answer"].values()) + p["hung_clients"],
                               ", ".join(f"{k}: {v}" for k, v in p["status"].items())]))
        keyed = load["with_key"].get("idempotency") or {}
        if keyed:
            lines += ["", "Idempotency answers under load: " + ", ".join(f"{k} {v}" for k, v in keyed.items()) + "."]
        lines += ["", f"Problems: {'; '.join(load['problems']) or 'none'}.", ""]
    art = r.get("artifact")
    if art:
        lines += ["### 2. Artifact round trip (approve → `run-complete`), ms", "",
                  _row(["stage", "p50", "p95", "max"]), _row(["---"] * 4),
                  _row([f"**total** ({art['runs']} runs)", *_ms(art["ms"], "p50", "p95", "max")])]
        for key, label in (("first", "the first project of its text on this platform"),
                           ("again", "a new project of a text validated before")):
            if (part := art.get("by_text_ms", {}).get(key)) is not None:
                lines.append(_row([f"{label} ({part['n']} runs)", *_ms(part, "p50", "p95", "max")]))
        for k, v in art.get("split_ms", {}).items():
            lines.append(_row([k, *_ms(v, "p50", "p95", "max")]))
        again = art.get("same_infrastructure")
        if again:
            lines += ["", f"The next version of {again['runs']} of those projects, from the same text (the same "
                      "Terraform, Python and workflows: the validators reuse the verdicts of `terraform test`, "
                      "checkov, `terraform fmt`, mypy and actionlint; the generated tests run again), ms:", "",
                      _row(["stage", "p50", "p95", "max"]), _row(["---"] * 4),
                      _row([f"**total** ({again['runs']} runs)", *_ms(again["ms"], "p50", "p95", "max")])]
            for k, v in again.get("split_ms", {}).items():
                lines.append(_row([k, *_ms(v, "p50", "p95", "max")]))
            if again.get("cpu_per_artifact"):
                lines += ["", f"CPU per next version's artifact round trip: {_machine(again['cpu_per_artifact'])}"
                              f"{again['cpu_per_artifact']['total_ms']} ms by process."]
        if art.get("first"):
            first = art["first"]
            slowest = sorted(first["tools_ms"].items(), key=lambda kv: -kv[1])[:3]
            lines += ["", f"The platform's first artifact round trip, a warm-up before the runs above (not in their "
                      f"sample; the validators' tools meet the generated trees' resource types for the first time): "
                      f"{first['ms']} ms; slowest tools " + ", ".join(f"{k.removeprefix('tool:')} {v:.0f}" for k, v in slowest) + "."]
        if art.get("cpu_per_artifact"):
            cpu = art["cpu_per_artifact"]
            lines += ["", f"CPU per artifact round trip: {_machine(cpu)}by process (each with the tools it ran and "
                      f"keeps warm, less those run under bubblewrap, whose times stay in its PID namespace) "
                      f"{cpu['total_ms']} ms (" +
                      ", ".join(f"{k} {v}" for k, v in list(cpu["by_process_ms"].items())[:5]) + ")."]
        lines.append("")
        nodes = art.get("nodes") or {}
        if nodes:
            lines += ["### 3. Per node, ms", "",
                      "`timeline`: from the previous node's last event to this node's first event (events `ts`); "
                      "`step`: the step's compute (`agent_runs.duration_ms`: graph run, no bus, no commit). A node at 0 "
                      "emits its events in the same step as the node above it; `process_approval_feedback` "
                      "includes the time the plan waited at the gate before the bench approved it.", "",
                      _row(["node (timeline)", "p50", "p95"]), _row(["---"] * 3)]
            for k, v in nodes.get("timeline_ms", {}).items():
                lines.append(_row([k, *_ms(v, "p50", "p95")]))
            lines += ["", _row(["step (service:node)", "p50", "p95"]), _row(["---"] * 3)]
            for k, v in nodes.get("step_compute_ms", {}).items():
                lines.append(_row([k, *_ms(v, "p50", "p95")]))
            cps = nodes.get("checkpoints") or {}
            if cps:
                lines += ["", "LangGraph rows per decision set and service thread `{ds}/{service}` "
                          "(mean over the artifact runs):", "",
                          _row(["service", "checkpoints", "checkpoint_writes", "checkpoint_blobs"]), _row(["---"] * 4)]
                for svc, v in cps.items():
                    lines.append(_row([svc, v.get("checkpoints", 0), v.get("checkpoint_writes", 0),
                                       v.get("checkpoint_blobs", 0)]))
            lines.append("")
    fl = r.get("floor")
    if fl:
        lines += ["### 4. The floor (same run), ms", "", _row(["operation", "p50", "p95", "p99"]), _row(["---"] * 4)]
        names = {("nats", "publish_ms"): "JetStream publish (file storage, Nats-Msg-Id) → ack",
                 ("nats", "hop_ms"): "JetStream publish → durable pull consumer has it → ack",
                 ("postgres", "insert_ms"): "Postgres INSERT jsonb row (autocommit)",
                 ("postgres", "insert_txn_ms"): "Postgres BEGIN; INSERT; COMMIT",
                 ("postgres", "select1_ms"): "Postgres SELECT 1"}
        for (a, b), label in names.items():
            if _get(fl, a, b):
                lines.append(_row([label, *_ms(fl[a][b], "p50", "p95", "p99")]))
        est = r.get("floor_estimate")
        if est:
            lines += ["", f"Floor of a plan round trip: ({est['steps']} steps + 1) × (hop + transaction) = "
                      f"{est['floor_ms']} ms against a measured p50 of {est['plan_p50_ms']} ms: "
                      f"**{est['our_code_share'] * 100:.0f}%** of the round trip is our code."]
        lines.append("")
    ip = r.get("inproc")
    if ip:
        lines += ["### 5. Bus overhead: the same handlers in one process, ms", "",
                  _row(["variant", "total p50", "total p95", "intake", "planner", "critics", "policy", "codegen"]),
                  _row(["---"] * 8)]
        for variant in ("graphs", "graphs+commit"):
            v = ip.get(variant) or {}
            lines.append(_row([variant, *_ms(v.get("total"), "p50", "p95"),
                               *[_ms(v.get(s), "p50")[0] for s in ("intake", "planner", "critics", "policy", "codegen")]]))
        lines += ["", f"Bus overhead ratio (plan p50 through the bus / in-process `graphs` p50): "
                  f"**{ip.get('bus_overhead_ratio')}**; against `graphs+commit`: {ip.get('bus_overhead_ratio_commit')}."]
        cpu = {variant: (ip.get(variant) or {}).get("cpu_per_plan_ms") for variant in ("graphs", "graphs+commit")}
        if all(cpu.values()):
            lines.append("CPU per plan in one process (the bench's, and Postgres): " + "; ".join(
                f"`{variant}` {sum(c.values()):.1f} ms ({', '.join(f'{k} {v}' for k, v in c.items())})"
                for variant, c in cpu.items()) + ".")
        lines.append("")
    g = r.get("growth")
    if g:
        lines += ["### 6. Growth", ""]
        v = g.get("versions")
        if v:
            lines.append(f"- Versions of one project: version {v['versions']} / version 1 on the Theil-Sen line "
                         f"through all {v['versions']} round trips **{v.get('trend_ratio')}**; first {v['window']} "
                         f"p50 {v['first']['p50']} ms, last {v['window']} p50 {v['last']['p50']} ms: ratio "
                         f"{v['ratio_last_first_p50']}.")
        st = g.get("stored")
        if st:
            lines.append(f"- Stored history: plan p50 {st['before']['ms']['p50']} ms with "
                         f"{st['before']['decision_sets']} decision sets, {st['after']['ms']['p50']} ms with "
                         f"{st['after']['decision_sets']} (rows: {st['bulk']['rows']}): ratio "
                         f"**{st['ratio_after_before_p50']}**.")
        rp = g.get("replay")
        if rp:
            lines.append(f"- SSE replay from the start: {rp['short']['events']} events in "
                         f"{rp['short']['ms']['p50']} ms ({rp['short']['us_per_event']} µs/event), "
                         f"{rp['long']['events']} events in {rp['long']['ms']['p50']} ms "
                         f"({rp['long']['us_per_event']} µs/event): per-event ratio **{rp['per_event_ratio']}**; "
                         f"a normal decision set ({rp['normal']['events']} events) {rp['normal']['ms']['p50']} ms.")
        hq = g.get("hot_queries")
        if hq:
            lines += ["", _row(["store query (direct), ms", "p50 before", "p50 with history"]), _row(["---"] * 3)]
            for k in hq.get("before", {}):
                lines.append(_row([k, *_ms(hq["before"][k], "p50"), *_ms(hq["after"].get(k), "p50")]))
        lines.append("")
    mem = r.get("memory")
    if mem:
        lines += ["### 7. Memory, MiB", "", _row(["process", "RSS at rest", "PSS at rest", "peak RSS (VmHWM)",
                                                  "RSS after the run"]), _row(["---"] * 5)]
        rest, end = mem.get("at_rest", {}), mem.get("after", {})
        for name, p in rest.get("processes", {}).items():
            e = end.get("processes", {}).get(name, {})
            n = f" ({p['processes']} processes)" if p["processes"] > 1 else ""
            lines.append(_row([name + n, _mib(p["rss"]), _mib(p["pss"]), _mib(e.get("hwm", p["hwm"])),
                               _mib(e.get("rss"))]))
        rt, et = rest.get("total", {}), end.get("total", {})
        lines.append(_row(["**whole `amp up`**", _mib(rt.get("rss")), _mib(rt.get("pss")),
                           f"{_mib(mem.get('peak', {}).get('peak_total_rss'))} (sampled sum)", _mib(et.get("rss"))]))
        rtool, etool = rest.get("tool_processes"), end.get("tool_processes")
        if rtool or etool:
            lines.append(_row(["the validators' tool processes (not in the sum above: warm checkov, warm "
                               "Terraform providers, the next run's sandbox; started by a validation; a provider "
                               "and a spare sandbox stop after 5 minutes unused)", _mib((rtool or {}).get("rss")), _mib((rtool or {}).get("pss")), "",
                               _mib((etool or {}).get("rss"))]))
        lines.append("")
    mo = r.get("model")
    if mo and mo.get("estimate_vs_actual"):
        lines += ["### 8. Model spend: the pre-run estimate against the run", "",
                  "Each version's estimate is made before its first model call (prompt packs, input size, the "
                  "project's earlier versions); a version whose estimate exceeds what is left of the budget "
                  "waits at the budget gate before spending.", "",
                  _row(["version", "estimated tokens", "actual tokens", "actual / estimate", "estimated USD",
                        "actual USD"]), _row(["---"] * 6)]
        for e in mo["estimate_vs_actual"]:
            lines.append(_row([e["version"], e.get("estimate_tokens"), e.get("actual_tokens"),
                               e.get("actual_over_estimate_tokens"), _usd(e.get("estimate_usd")),
                               _usd(e.get("actual_usd"))]))
        lines.append("")
    pure = r.get("pure")
    if pure:
        lines += ["### 9. Pure logic (no bus, no database), ms", "",
                  _row(["what", "runs", "p50", "p95", "p99", "max"]), _row(["---"] * 6)]
        for label, key in (("requirement extraction", "extract_ms"),
                           ("plan → critique → cost → policy", "plan_pipeline_ms"),
                           ("repository rendering", "render_ms")):
            if pure.get(key):
                lines.append(_row([label, pure[key].get("n"), *_ms(pure[key], "p50", "p95", "p99", "max")]))
        if pure.get("pathological_worst_ms") is not None:
            lines.append(f"\nSlowest adversarial extraction input: {pure['pathological_worst_ms']} ms.")
        first, cached = pure.get("token_first_check_us"), pure.get("token_cached_check_us")
        if first and cached:
            lines += ["", _row(["bearer token check, µs", "checks", "p50", "p95", "p99", "max"]), _row(["---"] * 6),
                      _row(["first check (ES256 signature)", first.get("n"), *_ms(first, "p50", "p95", "p99", "max")]),
                      _row(["repeated check (verified-token cache)", cached.get("n"),
                            *_ms(cached, "p50", "p95", "p99", "max")])]
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def _usd(v: Any) -> str:
    return "" if v is None else f"{v:.4f}"


def _mib(v: Any) -> str:
    return "" if v is None else f"{v / 2**20:.0f}"


def update_docs(path: Path, r: dict[str, Any]) -> None:
    section = render(r)
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: section, text, flags=re.DOTALL)
    else:
        text = (text or "# Benchmarks\n\n") + "\n## Results\n\n" + section + "\n\n## Analysis\n\n(hand-written)\n"
    path.write_text(text)


def _machine(cpu: dict[str, Any]) -> str:
    """The whole machine's CPU per round trip, where it was read: everything ran there, the bench
    client included (it waits on the stream), sandboxed tools too."""
    return f"**{cpu['machine_ms']} ms** on the whole machine; " if cpu.get("machine_ms") is not None else ""
