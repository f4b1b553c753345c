"""Dead letters through the REST API and `amp dlq`: listed with their reason, shown with the
original message, replayed once per key; a stopped run resumes, a finished one stays finished."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from amp_contracts import Envelope, GateExpire
from amp_runtime import store
from amp_runtime.agent import Route, dead_letter
from amp_runtime.bootstrap import open_deps
from amp_runtime.step_store import PostgresStepStore

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _park(settings, ds: str, project: str, subject: str, permanent: bool) -> bytes:
    env = Envelope[GateExpire](project_id=project, decision_set_id=ds, run_id=str(uuid.uuid4()),
                               payload=GateExpire(interrupt_id=f"i-{uuid.uuid4().hex[:6]}", kind="reminder"))
    data = env.model_dump_json().encode()

    async def main() -> None:
        async with open_deps(settings, "test") as deps:
            async with deps.pool.acquire() as conn, conn.transaction():
                await store.update_decision_set(conn, ds, {"status": "planning"}, expect_status={"intake", "planning"})
            await dead_letter(PostgresStepStore(deps.pool, deps.js), "tester", Route(subject, "gate_expire"), data,
                              "gate_expire failed: outage", "unavailable", permanent=permanent)

    asyncio.run(main())
    return data



def test_a_stalled_run_is_listed_shown_and_resumed_by_replaying_its_dead_letter(stack, settings,
                                                                                auth_headers) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers=auth_headers) as http:
        project = http.post("/projects", json={"name": f"dlq-{uuid.uuid4().hex[:6]}"}).json()["id"]
        # a decision set outside the pipeline's reach: created directly, so no agent moves it meanwhile
        async def new_ds() -> str:
            async with open_deps(settings, "test") as deps, deps.pool.acquire() as conn:
                return (await store.create_decision_set(conn, project, requirements="x"))["id"]

        ds = asyncio.run(new_ds())
        subject = f"amp.test.dlq.{uuid.uuid4().hex[:6]}"
        data = _park(settings, ds, project, subject, permanent=False)
        shown = http.get(f"/decision-sets/{ds}").json()
        assert shown["status"] == "stalled"
        listed = [d for d in http.get("/dead-letters").json()["dead_letters"] if d["decision_set_id"] == ds]
        assert len(listed) == 1 and listed[0]["code"] == "unavailable" and listed[0]["service"] == "tester"
        one = http.get(f"/dead-letters/{listed[0]['id']}").json()
        assert one["message"] == data.decode() and "outage" in one["reason"]
        # the message carries a project's requirements: nobody but its owners and the operators sees it
        stranger = {"Authorization": f"Bearer {stack.token('dlq-stranger')}"}
        assert http.get(f"/dead-letters/{listed[0]['id']}", headers=stranger).status_code == 404
        assert http.post(f"/dead-letters/{listed[0]['id']}/replay", json={}, headers=stranger).status_code == 404
        assert ds not in str(http.get("/dead-letters", headers=stranger).json())
        assert httpx.get(f"{stack.gateway_url}/dead-letters").status_code == 401
        key = {"Idempotency-Key": str(uuid.uuid4())}
        r = http.post(f"/dead-letters/{listed[0]['id']}/replay", json={}, headers=key)
        assert r.status_code == 202 and r.json()["status"] == "resuming"
        again = http.post(f"/dead-letters/{listed[0]['id']}/replay", json={}, headers=key)
        assert again.json() == r.json() and again.headers["Idempotent-Replayed"] == "true"
        assert http.get(f"/decision-sets/{ds}").json()["status"] == "resuming"
        assert http.get(f"/dead-letters/{listed[0]['id']}").json()["replays"] == 1
        assert http.get("/dead-letters/999999999").status_code == 404


def test_the_dead_letter_of_a_failed_run_is_kept_but_not_replayed(stack, settings, auth_headers) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers=auth_headers) as http:
        project = http.post("/projects", json={"name": f"dlq-{uuid.uuid4().hex[:6]}"}).json()["id"]

        async def new_ds() -> str:
            async with open_deps(settings, "test") as deps, deps.pool.acquire() as conn:
                return (await store.create_decision_set(conn, project, requirements="x"))["id"]

        ds = asyncio.run(new_ds())
        _park(settings, ds, project, f"amp.test.dlq.{uuid.uuid4().hex[:6]}", permanent=True)
        assert http.get(f"/decision-sets/{ds}").json()["status"] == "failed"
        letter = next(d for d in http.get("/dead-letters").json()["dead_letters"] if d["decision_set_id"] == ds)
        r = http.post(f"/dead-letters/{letter['id']}/replay", json={})
        assert r.status_code == 409 and r.json()["error"]["code"] == "gate_closed"
        assert http.get(f"/decision-sets/{ds}").json()["status"] == "failed"
