"""The physical floor, measured in the same run: one JetStream hop and one Postgres write, bare."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import asyncpg
import nats
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from .common import summary

PAYLOAD = json.dumps({"constraints": {"cloud": "aws", "regions": ["eu-west-1"], "latency_p95_ms": 80},
                      "plan": {"components": [{"id": f"c{i}", "capability": "serving_online"} for i in range(20)]},
                      "pad": "x" * 2000}).encode()  # about the size of a mid-chain message


async def nats_hop(url: str, runs: int) -> dict[str, Any]:
    """publish (with a Nats-Msg-Id, file storage) → durable pull consumer receives → ack, as the
    services do it: a consumer loop with a pending pull request, a producer waiting for delivery."""
    nc = await nats.connect(url, name="amp-bench-floor")
    js = nc.jetstream()
    name, subject = "BENCHFLOOR", "benchfloor.hop"
    try:
        await js.delete_stream(name)
    except Exception:  # noqa: BLE001 - not there yet
        pass
    await js.add_stream(StreamConfig(name=name, subjects=["benchfloor.>"], storage=StorageType.FILE,
                                     duplicate_window=120.0))
    psub = await js.pull_subscribe(subject, durable="benchfloor", stream=name,
                                   config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=30))
    got: asyncio.Queue[float] = asyncio.Queue()
    stop = asyncio.Event()

    async def consume() -> None:
        while not stop.is_set():
            try:
                msgs = await psub.fetch(1, timeout=1.0)
            except nats.errors.TimeoutError:
                continue
            for m in msgs:
                await m.ack()
                got.put_nowait(time.perf_counter())

    task = asyncio.create_task(consume())
    publish_ms, hop_ms = [], []
    try:
        for i in range(runs + 5):
            t0 = time.perf_counter()
            await js.publish(subject, PAYLOAD, headers={"Nats-Msg-Id": f"floor-{uuid.uuid4()}"})
            t1 = time.perf_counter()
            t2 = await asyncio.wait_for(got.get(), 10)
            if i >= 5:  # the first few warm the consumer up
                publish_ms.append((t1 - t0) * 1000)
                hop_ms.append((t2 - t0) * 1000)
    finally:
        stop.set()
        await task
        await js.delete_stream(name)
        await nc.close()
    return {"publish_ms": summary(publish_ms), "hop_ms": summary(hop_ms), "payload_bytes": len(PAYLOAD)}


async def postgres_write(url: str, runs: int) -> dict[str, Any]:
    """A bare INSERT of a jsonb row (autocommit), the same in an explicit transaction, and SELECT 1."""
    conn = await asyncpg.connect(url)
    await conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, k text UNIQUE NOT NULL, "
                       "data jsonb NOT NULL, ts timestamptz NOT NULL DEFAULT now())")
    doc = PAYLOAD.decode()
    ins, txn, sel = [], [], []
    try:
        for i in range(runs + 5):
            t0 = time.perf_counter()
            await conn.execute("INSERT INTO bench_floor (k, data) VALUES ($1, $2::jsonb)", f"a{i}-{uuid.uuid4()}", doc)
            t1 = time.perf_counter()
            async with conn.transaction():
                await conn.execute("INSERT INTO bench_floor (k, data) VALUES ($1, $2::jsonb)", f"b{i}-{uuid.uuid4()}",
                                   doc)
            t2 = time.perf_counter()
            await conn.fetchval("SELECT 1")
            t3 = time.perf_counter()
            if i >= 5:
                ins.append((t1 - t0) * 1000)
                txn.append((t2 - t1) * 1000)
                sel.append((t3 - t2) * 1000)
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_floor")
        await conn.close()
    return {"insert_ms": summary(ins), "insert_txn_ms": summary(txn), "select1_ms": summary(sel)}


async def floor(nats_url: str | None, database_url: str | None, runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if nats_url:
        out["nats"] = await nats_hop(nats_url, runs)
    if database_url:
        out["postgres"] = await postgres_write(database_url, runs)
    return out
