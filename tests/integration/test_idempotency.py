"""Idempotency-Key under concurrency, against the running gateway: no pool exhaustion, no hang,
one effect per key, replays identical (errors included)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BODY = {"text": "Nightly batch churn scoring on GCP europe-west4, budget $800 per month, internal data."}


@pytest.fixture()
def auth(auth_headers) -> dict[str, str]:
    return auth_headers


@pytest.fixture()
def project(stack, auth) -> str:
    return httpx.post(f"{stack.gateway_url}/projects", json={"name": f"idem-{uuid.uuid4().hex[:6]}"},
                      headers=auth).json()["id"]


async def _healthz_during(client: httpx.AsyncClient, work: asyncio.Future) -> list[int]:
    """/healthz polled while `work` runs: it must keep answering."""
    codes = []
    while not work.done():
        codes.append((await client.get("/healthz", timeout=20)).status_code)
        await asyncio.sleep(0.05)
    return codes


def test_many_concurrent_keys_neither_hang_nor_exhaust_the_pool(stack, project, auth) -> None:
    async def main() -> tuple[list[httpx.Response], list[int], int]:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60, limits=limits, headers=auth) as c:
            work = asyncio.ensure_future(asyncio.gather(*(
                c.post(f"/projects/{project}/constraints", json=BODY, headers={"Idempotency-Key": str(uuid.uuid4())})
                for _ in range(30))))
            health = await _healthz_during(c, work)
            answers = await work
            after = (await c.get("/healthz", timeout=20)).status_code
        return answers, health, after

    answers, health, after = asyncio.run(main())
    assert [r.status_code for r in answers] == [202] * 30, [r.text for r in answers if r.status_code != 202][:3]
    assert len({r.json()["decision_set_id"] for r in answers}) == 30
    assert health and set(health) == {200}
    assert after == 200
    assert httpx.get(f"{stack.gateway_url}/projects/{project}", headers=auth).json()["version_count"] == 30


def test_one_key_sent_ten_times_at_once_makes_one_decision_set(stack, project, auth) -> None:
    key = str(uuid.uuid4())

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60, headers=auth) as c:
            return await asyncio.gather(*(
                c.post(f"/projects/{project}/constraints", json=BODY, headers={**auth, "Idempotency-Key": key})
                for _ in range(10)))

    answers = asyncio.run(main())
    codes = [r.status_code for r in answers]
    assert set(codes) <= {202, 409}, codes
    assert 202 in codes
    busy = [r for r in answers if r.status_code == 409]
    for r in busy:  # the draft's "still in progress": a conflict that says when to retry
        assert r.json()["error"]["code"] == "conflict" and r.headers["Retry-After"] == "1"
    ids = {r.json()["decision_set_id"] for r in answers if r.status_code == 202}
    assert len(ids) == 1
    again = httpx.post(f"{stack.gateway_url}/projects/{project}/constraints", json=BODY,
                       headers={**auth, "Idempotency-Key": key})
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["decision_set_id"] in ids
    assert httpx.get(f"{stack.gateway_url}/projects/{project}", headers=auth).json()["version_count"] == 1


def test_an_error_is_replayed_identically_and_the_key_is_scoped_to_its_route(stack, project, auth) -> None:
    url = stack.gateway_url
    ds = httpx.post(f"{url}/projects/{project}/constraints", json=BODY, headers=auth).json()["decision_set_id"]
    key = str(uuid.uuid4())
    first = httpx.post(f"{url}/decision-sets/{ds}/approve", json={"status": "approved"},
                       headers={**auth, "Idempotency-Key": key})
    assert first.status_code == 409 and first.json()["error"]["code"] == "gate_closed"
    second = httpx.post(f"{url}/decision-sets/{ds}/approve", json={"status": "approved"},
                        headers={**auth, "Idempotency-Key": key})
    assert (second.status_code, second.json()) == (first.status_code, first.json())
    assert second.headers["Idempotent-Replayed"] == "true"
    other_route = httpx.post(f"{url}/projects", json={"name": "same key, another route"},
                             headers={**auth, "Idempotency-Key": key})
    assert other_route.status_code == 201 and "Idempotent-Replayed" not in other_route.headers
    bad = httpx.post(f"{url}/projects", json={"name": "x"}, headers={**auth, "Idempotency-Key": "x" * 201})
    assert bad.status_code == 422
