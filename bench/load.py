"""Load: N concurrent REST clients for a fixed time, without and then with `Idempotency-Key`.

What it shows: the gateway does not hang (every request answers within the client's timeout and
`/healthz` answers right after), never answers 5xx, and how long requests take at the tail (p99).

Each client, until the time is up, picks one request at a time: create a project (the command
path: a pooled connection, a transaction, the outbox), list projects, read one of its projects,
read the seeded decision set and its events. With keys, every create carries an
`Idempotency-Key`: most are fresh, some repeat an earlier key with its body (the stored answer
must come back identical, marked `Idempotent-Replayed`), some send an earlier key with another
body (422), and some send one fresh key twice at once (one creates; the other is a replay or a
409 "still in flight"). Request loops are bounded by the time given and stop by themselves; they
speak only to the gateway given (loopback for the embedded stack).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import httpx

from .common import summary

#: How often each operation is picked (relative weights); the keyed ones only with keys.
OPS = {"create": 2.0, "list": 2.0, "project": 2.0, "decision_set": 2.0, "events": 1.0}
KEYED_OPS = {"replay": 1.0, "reuse_other_body": 0.2, "same_key_twice": 0.5}
REQUEST_TIMEOUT_S = 30.0
#: A client drops an idle connection before the server does (uvicorn closes them after 5 s): a request
#: sent on a connection the server is closing at that instant gets no answer (the keep-alive race).
KEEPALIVE_EXPIRY_S = 2.0


class Phase:
    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = defaultdict(list)
        self.status: Counter = Counter()
        self.errors: Counter = Counter()  # no answer: timeouts (a hang), refused connections
        self.checks: Counter = Counter()  # idempotency answers as the draft says (ok) or not (wrong)


async def _timed(phase: Phase, op: str, call: Any) -> httpx.Response | None:
    t0 = time.perf_counter()
    try:
        r = await call
    except httpx.TimeoutException:
        phase.errors[f"{op}: timeout"] += 1
        return None
    except httpx.HTTPError as e:
        phase.errors[f"{op}: {type(e).__name__}"] += 1
        return None
    phase.ms[op].append((time.perf_counter() - t0) * 1000)
    phase.status[str(r.status_code)] += 1
    return r


class Client:
    def __init__(self, http: httpx.AsyncClient, phase: Phase, keyed: bool, seed_ds: str | None, n: int) -> None:
        self.http, self.phase, self.keyed, self.seed_ds, self.n = http, phase, keyed, seed_ds, n
        self.projects: list[str] = []
        self.used: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # (key, body, first answer)
        self.rng = random.Random(n)

    def body(self) -> dict[str, Any]:
        return {"name": f"load {self.n}-{uuid.uuid4().hex[:8]}", "description": "bench load"}

    async def create(self, key: str | None = None, body: dict[str, Any] | None = None) -> httpx.Response | None:
        body = body or self.body()
        headers = {"Idempotency-Key": key} if key else {}
        r = await _timed(self.phase, "create", self.http.post("/projects", json=body, headers=headers))
        if r is not None and r.status_code == 201:
            if r.headers.get("Idempotent-Replayed") != "true":
                self.projects.append(r.json()["id"])
                if key:
                    self.used.append((key, body, r.json()))
        return r

    async def step(self) -> None:
        ops = dict(OPS, **(KEYED_OPS if self.keyed and self.used else {}))
        if not self.seed_ds:
            ops = {k: w for k, w in ops.items() if k not in ("decision_set", "events")}
        if not self.projects:
            ops = {"create": 1.0}
        op = self.rng.choices(list(ops), weights=list(ops.values()))[0]
        p = self.phase
        if op == "create":
            await self.create(uuid.uuid4().hex if self.keyed else None)
        elif op == "list":
            await _timed(p, op, self.http.get("/projects", params={"limit": 20}))
        elif op == "project":
            await _timed(p, op, self.http.get(f"/projects/{self.rng.choice(self.projects)}"))
        elif op == "decision_set":
            await _timed(p, op, self.http.get(f"/decision-sets/{self.seed_ds}"))
        elif op == "events":
            await _timed(p, op, self.http.get(f"/decision-sets/{self.seed_ds}/events", params={"limit": 100}))
        elif op == "replay":
            key, body, first = self.rng.choice(self.used)
            r = await _timed(p, op, self.http.post("/projects", json=body, headers={"Idempotency-Key": key}))
            if r is not None:
                same = (r.status_code == 201 and r.headers.get("Idempotent-Replayed") == "true"
                        and r.json() == first)
                p.checks["replay identical" if same else f"replay wrong ({r.status_code})"] += 1
        elif op == "reuse_other_body":
            key, _, _ = self.rng.choice(self.used)
            r = await _timed(p, op, self.http.post("/projects", json=self.body(), headers={"Idempotency-Key": key}))
            if r is not None:
                p.checks["other body 422" if r.status_code == 422 else f"other body wrong ({r.status_code})"] += 1
        elif op == "same_key_twice":
            key, body = uuid.uuid4().hex, self.body()
            a, b = await asyncio.gather(self.create(key, body), self.create(key, body))
            if a is not None and b is not None:
                codes = sorted([a.status_code, b.status_code])
                created = [r for r in (a, b) if r.status_code == 201 and r.headers.get("Idempotent-Replayed") != "true"]
                ok = len(created) == 1 and codes in ([201, 201], [201, 409])
                p.checks["same key twice: one created" if ok else f"same key twice wrong {codes}"] += 1


async def phase(base_url: str, headers: dict[str, str], clients: int, seconds: float, keyed: bool,
                seed_ds: str | None) -> dict[str, Any]:
    ph = Phase()
    limits = httpx.Limits(max_connections=clients * 2 + 4, max_keepalive_connections=clients * 2,
                          keepalive_expiry=KEEPALIVE_EXPIRY_S)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:
        workers = [Client(http, ph, keyed, seed_ds, i) for i in range(clients)]
        stop = time.monotonic() + seconds

        async def loop(c: Client) -> None:
            while time.monotonic() < stop:
                await c.step()

        t0 = time.perf_counter()
        # bounded: each request has its timeout, so the phase ends within seconds + one timeout
        done, pending = await asyncio.wait([asyncio.create_task(loop(c)) for c in workers],
                                           timeout=seconds + REQUEST_TIMEOUT_S + 5)
        for t in pending:
            t.cancel()
        wall = time.perf_counter() - t0
        for t in done:
            if t.exception() is not None:
                ph.errors[f"client crashed: {type(t.exception()).__name__}"] += 1
        t1 = time.perf_counter()
        try:
            health = (await http.get("/healthz", timeout=5)).status_code
        except httpx.HTTPError as e:
            health = type(e).__name__
        health_ms = round((time.perf_counter() - t1) * 1000, 1)
    every = [v for vs in ph.ms.values() for v in vs]
    total = sum(ph.status.values())
    return {
        "keyed": keyed, "clients": clients, "seconds": seconds, "wall_s": round(wall, 2),
        "requests": total, "throughput_per_s": round(total / wall, 1) if wall else None,
        "status": dict(sorted(ph.status.items())),
        "server_errors": sum(n for s, n in ph.status.items() if s.startswith("5")),
        "no_answer": dict(ph.errors), "hung_clients": len(pending),
        "ms": summary(every), "by_op": {op: summary(v) for op, v in sorted(ph.ms.items())},
        "idempotency": dict(sorted(ph.checks.items())),
        "healthz_after": {"status": health, "ms": health_ms},
    }


def verdict(p: dict[str, Any]) -> list[str]:
    """What a phase got wrong: a hang, a 5xx, an idempotency answer not as the draft says."""
    wrong = []
    if p["hung_clients"] or any("timeout" in k for k in p["no_answer"]):
        wrong.append(f"hang: {p['hung_clients']} client(s) still waiting, {p['no_answer']}")
    if p["no_answer"]:
        wrong.append(f"requests without an answer: {p['no_answer']}")
    if p["server_errors"]:
        wrong.append(f"{p['server_errors']} server error(s): {p['status']}")
    if p["healthz_after"]["status"] != 200:
        wrong.append(f"/healthz after the load: {p['healthz_after']}")
    wrong += [f"idempotency: {k} x{n}" for k, n in p["idempotency"].items() if "wrong" in k]
    return wrong


async def run(base_url: str, headers: dict[str, str], clients: int, seconds: float,
              seed_ds: str | None = None) -> dict[str, Any]:
    """Both phases, one after the other; `problems` lists whatever went wrong (empty: it held)."""
    out: dict[str, Any] = {"clients": clients, "seconds": seconds}
    for name, keyed in (("without_key", False), ("with_key", True)):
        out[name] = await phase(base_url, headers, clients, seconds, keyed, seed_ds)
    out["problems"] = verdict(out["without_key"]) + verdict(out["with_key"])
    return out
