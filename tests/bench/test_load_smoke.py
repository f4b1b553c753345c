"""The REST load bench (`amp bench --only load`, 50 clients for 60 s per phase) at smoke size against
the suite's gateway, so it never rots: no hang, no 5xx, idempotency answers as the draft says, p99
recorded. The figures themselves are the bench's (docs/benchmarks.md), never asserted here."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.flows import FRAUD

pytestmark = pytest.mark.integration


def test_load_bench_at_smoke_size(stack, client, auth_headers) -> None:
    from bench import load

    project = client.create_project("load smoke seed")
    seed = client.submit(project["id"], FRAUD)["decision_set_id"]
    r = asyncio.run(load.run(stack.gateway_url, auth_headers, clients=5, seconds=3.0, seed_ds=seed))
    assert r["problems"] == []
    for name in ("without_key", "with_key"):
        p = r[name]
        assert p["requests"] > 0 and p["ms"]["p99"] is not None and p["healthz_after"]["status"] == 200
        assert {"create", "list", "project", "decision_set", "events"} <= set(p["by_op"])
    checks = r["with_key"]["idempotency"]
    assert checks and all("wrong" not in k for k in checks)
    assert not r["without_key"]["idempotency"]
