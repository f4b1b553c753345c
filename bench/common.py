"""What every benchmark shares: statistics, machine facts, the scenario texts, an async API client."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from amp_cli import credentials
from amp_cli.sse import SseParser

ROOT = Path(__file__).resolve().parents[1]


def scenario_texts() -> list[dict[str, str]]:
    """The repository's planning scenarios (`eval/`), the workload every figure is measured on."""
    path = ROOT / "eval" / "scenarios" / "scenarios.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [{"id": r["id"], "text": r["text"]} for r in rows]


def bench_settings(data_dir: Path) -> Any:
    """Settings of a platform the bench starts: deterministic provider, a free port, and the per-user
    write limit (120/min) and stream cap (20) lifted: the bench is one user playing many clients, and
    measures the gateway behind those limits (they have their own tests)."""
    from amp_runtime.embedded import free_port
    from amp_runtime.settings import Settings

    return Settings(data_dir=data_dir, gateway_port=free_port(), provider="deterministic",
                    rate_limit_per_min=1_000_000, sse_streams_per_user=1_000)


@contextmanager
def bench_token(stack: Any) -> Iterator[None]:
    """The benchmark's user signs every request (`AMP_TOKEN`); a caller's own token is given back
    at the end (run inside a test session, a leftover token fails the tests that follow)."""
    caller_token = os.environ.get("AMP_TOKEN")
    os.environ["AMP_TOKEN"] = stack.token("bench")
    try:
        yield
    finally:
        if caller_token is None:
            os.environ.pop("AMP_TOKEN", None)
        else:
            os.environ["AMP_TOKEN"] = caller_token


def pct(values: list[float], p: float) -> float | None:
    """Percentile by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values_ms: list[float]) -> dict[str, Any]:
    """n, mean, p50, p95, p99, min, max of a list of milliseconds, rounded for the record."""
    if not values_ms:
        return {"n": 0}
    r = lambda v: round(v, 2)
    return {"n": len(values_ms), "mean": r(statistics.fmean(values_ms)), "p50": r(pct(values_ms, 50)),
            "p95": r(pct(values_ms, 95)), "p99": r(pct(values_ms, 99)), "min": r(min(values_ms)),
            "max": r(max(values_ms))}


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model or platform.processor(), "mem_bytes": mem,
            "mem_gib": round(mem / 2**30, 1), "python": sys.version.split()[0], "platform": platform.platform(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def waivers_for(gate: dict[str, Any]) -> list[dict[str, str]]:
    """A waiver for every failed rule of a gate's policy (the bench approves every plan)."""
    rules = (gate.get("policy") or {}).get("rules") or []
    return [{"rule_id": r["id"], "reason": "benchmark run", "by": "bench"}
            for r in rules if r.get("status") == "fail" and not r.get("waived")]


Pred = Callable[[str, dict[str, Any]], bool]


class Api:
    """The gateway's REST + SSE API over one async HTTP connection pool."""

    def __init__(self, base_url: str, timeout: float = 60.0, token: str | None = None) -> None:
        if token is None:
            token = credentials.resolve(base_url.rstrip("/"))  # AMP_TOKEN, `amp login`, or the local issuer
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout,
                                      headers={"Authorization": f"Bearer {token}"} if token else {},
                                      limits=httpx.Limits(max_connections=256, max_keepalive_connections=128))

    async def close(self) -> None:
        await self.http.aclose()

    async def _json(self, r: httpx.Response) -> Any:
        if r.status_code >= 400:
            raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}")
        return r.json()

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        return await self._json(await self.http.post(path, json=body))

    async def get(self, path: str, **params: Any) -> Any:
        return await self._json(await self.http.get(path, params=params))

    async def create_project(self, name: str) -> str:
        return (await self.post("/projects", {"name": name}))["id"]

    async def submit(self, project_id: str, text: str) -> dict[str, Any]:
        return await self.post(f"/projects/{project_id}/constraints", {"text": text, "constraints": {}})

    async def approve(self, ds_id: str, gate: dict[str, Any]) -> Any:
        return await self.post(f"/decision-sets/{ds_id}/approve",
                               {"status": "approved", "comment": "", "waivers": waivers_for(gate)})

    async def events(self, ds_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after = 0
        while True:
            batch = (await self.get(f"/decision-sets/{ds_id}/events", after=after, limit=1000))["events"]
            out.extend(batch)
            if len(batch) < 1000:
                return out
            after = batch[-1]["id"]

    async def until(self, ds_id: str, pred: Pred, last_id: int | None = None, timeout: float = 120.0
                    ) -> tuple[str, dict[str, Any], int | None, int]:
        """Follow the SSE stream until `pred(event, data)`: (event, data, id, frames seen)."""
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        frames = 0
        async with self.http.stream("GET", f"/streams/{ds_id}", headers=headers,
                                    timeout=httpx.Timeout(timeout, read=timeout)) as r:
            if r.status_code >= 400:
                await r.aread()
                raise RuntimeError(f"stream {ds_id}: {r.status_code} {r.text[:300]}")
            parser = SseParser()
            async for line in r.aiter_lines():
                frame = parser.feed(line)
                if frame is None:
                    continue
                ev, payload, eid = frame
                frames += 1
                if pred(ev, payload):
                    return ev, payload, eid, frames
                if ev == "run-complete":
                    raise RuntimeError(f"stream {ds_id} ended ({payload.get('status')}) before the awaited event")
        raise RuntimeError(f"stream {ds_id} closed before the awaited event")


def is_gate(ev: str, data: dict[str, Any]) -> bool:
    if ev == "gate-waiting" and data.get("gate") == "intake":
        raise RuntimeError(f"decision set {data.get('decision_set_id')} asks intake questions; "
                           "the plan benchmark needs texts that need none")
    return ev == "gate-waiting" and data.get("gate") == "pre-codegen"


def is_complete(ev: str, data: dict[str, Any]) -> bool:
    return ev == "run-complete"
