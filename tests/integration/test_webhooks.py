"""Webhooks end to end below a full run: the gateway's subscriptions, the webhooks service on the bus,
a real receiver on loopback, signatures checked with the Standard Webhooks reference library.

Events are recorded and published the way a step does (a row in `events`, one EventBatch on
`amp.events.<ds>`); the stack's own webhooks service delivers them.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest
from amp_contracts import WEBHOOK_EVENTS, Event, EventBatch, Subjects
from amp_domain.webhooks import TargetPolicy
from amp_runtime import store
from amp_runtime.bootstrap import open_deps
from amp_runtime.bus import publish
from amp_runtime.embedded import free_port
from amp_runtime.step import publish_events
from standardwebhooks.webhooks import Webhook

from services.webhooks.sender import Sender
from tests.fakes.webhook_receiver import Receiver

pytestmark = pytest.mark.integration


@pytest.fixture()
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture()
def http(stack, auth_headers):
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers=auth_headers) as c:
        yield c


def new_project(http: httpx.Client) -> str:
    return http.post("/projects", json={"name": f"hooks-{uuid.uuid4().hex[:6]}"}).json()["id"]


def subscribe(http: httpx.Client, project: str, url: str, events: list[str]) -> dict:
    r = http.post(f"/projects/{project}/webhooks", json={"url": url, "events": events, "description": "test"})
    assert r.status_code == 201, r.text
    return r.json()


async def emit(settings, project: str, type_: str, data: dict, ds: str | None = None) -> Event:
    """Record one event of a decision set and publish its batch, as a step would."""
    async with open_deps(settings, "test") as deps:
        async with deps.pool.acquire() as conn, conn.transaction():
            if ds is None:
                ds = (await store.create_decision_set(conn, project, requirements="PRIVATE REQUIREMENT TEXT"))["id"]
            events = await store.insert_events(conn, [Event(type=type_, project_id=project, decision_set_id=ds,
                                                            run_id="test", node_name="test_node", data=data)],
                                               uuid.uuid4().hex, None)
        await publish_events(deps.js, events, uuid.uuid4().hex)
    return events[0]


async def wait_for(path: str, n: int, receiver: Receiver, timeout: float = 60.0):
    return await asyncio.to_thread(receiver.wait, path, n, timeout)


def deliveries(http: httpx.Client, project: str, hook: str) -> list[dict]:
    r = http.get(f"/projects/{project}/webhooks/{hook}/deliveries")
    assert r.status_code == 200, r.text
    return r.json()["deliveries"]


def settled(http: httpx.Client, project: str, hook: str, timeout: float = 30.0) -> list[dict]:
    """The delivery log once no delivery is pending or being sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = deliveries(http, project, hook)
        if rows and all(d["state"] in ("delivered", "failed") for d in rows):
            return rows
        time.sleep(0.1)
    raise AssertionError(f"deliveries did not settle: {deliveries(http, project, hook)}")


def verify(secret: str, req) -> dict:
    return Webhook(secret).verify(req.body, req.headers)


# --- the API ----------------------------------------------------------------------------------

def test_subscriptions_crud_secret_shown_once_and_bad_input(http, receiver) -> None:
    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/crud"), ["run.complete", "plan.ready", "run.complete"])
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["run.complete", "plan.ready"]
    assert hook["enabled"] is True
    listed = http.get(f"/projects/{project}/webhooks").json()["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0] and "whsec_" not in json.dumps(listed)
    one = http.get(f"/projects/{project}/webhooks/{hook['id']}").json()
    assert "secret" not in one and hook["secret"] not in json.dumps(one)
    patched = http.patch(f"/projects/{project}/webhooks/{hook['id']}", json={"enabled": False, "events": ["gate.waiting"]})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert patched.json()["events"] == ["gate.waiting"] and patched.json()["disabled_reason"]
    types = http.get("/webhooks/event-types").json()["event_types"]
    assert {t["type"] for t in types} >= {"plan.ready", "gate.waiting", "run.complete", "budget.paused"}
    # bad input: 4xx in the error model
    bad = http.post(f"/projects/{project}/webhooks", json={"url": receiver.url("/x"), "events": ["run.finished"]})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_failed"
    bad = http.post(f"/projects/{project}/webhooks", json={"url": "ftp://example.com/", "events": ["run.complete"]})
    assert bad.status_code == 422 and "https" in bad.json()["error"]["message"]
    bad = http.post(f"/projects/{project}/webhooks", json={"url": receiver.url("/x"), "events": []})
    assert bad.status_code == 422
    assert http.post(f"/projects/{uuid.uuid4()}/webhooks",
                     json={"url": receiver.url("/x"), "events": ["run.complete"]}).status_code == 404
    assert http.get(f"/projects/{project}/webhooks/{uuid.uuid4()}").status_code == 404
    other = new_project(http)  # another project's webhook is not found through this one
    assert http.get(f"/projects/{other}/webhooks/{hook['id']}").status_code == 404
    assert http.delete(f"/projects/{project}/webhooks/{hook['id']}").status_code == 204
    assert http.get(f"/projects/{project}/webhooks/{hook['id']}").status_code == 404


def test_a_gateway_without_the_flags_refuses_http_and_private_urls(stack, settings, receiver,
                                                                   auth_headers) -> None:
    """Secure by default: only https, and only to public addresses, unless the deployment allows more."""
    # lazy: a second gateway of the same servers, configured as in production
    from amp_cli.stack import Stack

    strict = Stack(settings.model_copy(update={"webhook_allow_http": False, "webhook_allow_private": False,
                                               "gateway_port": free_port()}))
    strict.start_services(agents=(), gateway=True)
    try:
        with httpx.Client(base_url=strict.gateway_url, timeout=30, headers=auth_headers) as c:
            project = new_project(c)
            r = c.post(f"/projects/{project}/webhooks", json={"url": receiver.url("/p"), "events": ["run.complete"]})
            assert r.status_code == 422 and "https" in r.json()["error"]["message"]
            for url in ("https://127.0.0.1:9/hook", "https://localhost/hook", "https://10.0.0.8/hook",
                        "https://169.254.169.254/latest/meta-data"):
                r = c.post(f"/projects/{project}/webhooks", json={"url": url, "events": ["run.complete"]})
                assert r.status_code == 422, (url, r.text)
                assert any(w in r.json()["error"]["message"] for w in ("loopback", "private", "metadata")), r.text
            assert c.get(f"/projects/{project}/webhooks").json()["webhooks"] == []
    finally:
        strict.stop()


async def test_the_sender_refuses_private_addresses_at_connect_time(receiver) -> None:
    """The connection itself checks where it goes: a name that resolves to loopback is refused, nothing is sent."""
    strict = Sender(TargetPolicy(allow_http=True), timeout_s=5)
    try:
        port = receiver.server.server_address[1]
        for url in (f"http://127.0.0.1:{port}/strict", f"http://localhost:{port}/strict"):
            answer = await strict.post(url, {"webhook-id": "msg_x"}, b"{}")
            assert answer.refused and answer.status_code is None and "loopback" in (answer.error or ""), answer
        assert receiver.at("/strict") == []
    finally:
        await strict.close()
    dev = Sender(TargetPolicy(allow_http=True, allow_private=True), timeout_s=5)
    try:
        answer = await dev.post(receiver.url("/strict"), {"webhook-id": "msg_x"}, b"{}")
        assert answer.status_code == 200 and answer.latency_ms > 0
        assert len(receiver.at("/strict")) == 1
    finally:
        await dev.close()


# --- delivery ---------------------------------------------------------------------------------

async def test_a_delivery_is_signed_per_the_standard(http, settings, receiver) -> None:
    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/signed"), ["run.complete"])
    ev = await emit(settings, project, "run-complete", {"status": "completed", "version": 1})
    await emit(settings, project, "reason-card", {"summary": "not a webhook event"}, ds=ev.decision_set_id)
    [req] = await wait_for("/signed", 1, receiver)
    payload = verify(hook["secret"], req)
    assert req.headers["content-type"] == "application/json"
    assert req.headers["webhook-id"].startswith("msg_")
    assert abs(int(req.headers["webhook-timestamp"]) - time.time()) < 60
    assert payload["type"] == "run.complete" and set(payload) == {"type", "timestamp", "data"}
    d = payload["data"]
    assert (d["project_id"], d["decision_set_id"], d["status"], d["version"]) == (
        project, ev.decision_set_id, "completed", 1)
    assert d["links"]["api"].endswith(f"/decision-sets/{ev.decision_set_id}")
    assert "PRIVATE REQUIREMENT TEXT" not in req.body.decode()
    [log] = settled(http, project, hook["id"])
    assert log["state"] == "delivered" and log["attempts"] == 1 and log["event_type"] == "run.complete"
    assert log["message_id"] == req.headers["webhook-id"]
    [attempt] = log["attempt_log"]
    assert attempt["status_code"] == 200 and attempt["latency_ms"] > 0 and attempt["error"] is None
    await asyncio.sleep(1.0)
    assert len(receiver.at("/signed")) == 1  # the reason card was no webhook event


async def test_fails_twice_then_succeeds_three_attempts_with_one_webhook_id(http, settings, receiver) -> None:
    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/flaky"), ["gate.reminder"])
    receiver.fail_then("/flaky", 500, 503)
    await emit(settings, project, "gate-reminder", {"gate": "pre-codegen"})
    reqs = await wait_for("/flaky", 3, receiver)
    assert [r.status for r in reqs] == [500, 503, 200]
    assert len({r.headers["webhook-id"] for r in reqs}) == 1
    assert len({r.body for r in reqs}) == 1  # the same body every time, signed afresh
    for r in reqs:
        assert verify(hook["secret"], r)["type"] == "gate.reminder"
    gaps = [b.at - a.at for a, b in zip(reqs, reqs[1:], strict=False)]
    schedule = settings.webhook_retry_schedule_s
    assert gaps[0] >= schedule[0] * (1 - settings.webhook_jitter) - 0.05 and gaps[1] >= schedule[1] * 0.8 - 0.05, gaps
    [log] = settled(http, project, hook["id"])
    assert log["state"] == "delivered" and log["attempts"] == 3
    assert [a["status_code"] for a in log["attempt_log"]] == [500, 503, 200]
    await asyncio.sleep(1.0)
    assert len(receiver.at("/flaky")) == 3


async def test_giving_up_after_the_schedule(http, settings, receiver) -> None:
    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/down"), ["gate.expired"])
    receiver.fail_then("/down", *[500] * 20)
    await emit(settings, project, "gate-stale", {"gate": "pre-codegen"})
    [log] = settled(http, project, hook["id"], timeout=60)
    tries = 1 + len(settings.webhook_retry_schedule_s)
    assert log["state"] == "failed" and log["attempts"] == tries and f"gave up after {tries}" in log["last_error"]
    assert len(receiver.at("/down")) == tries
    assert http.get(f"/projects/{project}/webhooks/{hook['id']}").json()["enabled"] is True  # only 410 disables


async def test_410_disables_the_subscription(http, settings, receiver) -> None:
    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/gone"), ["run.error", "run.complete"])
    receiver.fail_then("/gone", 410)
    ev = await emit(settings, project, "run-error", {"code": "internal", "node_name": "planner"})
    await wait_for("/gone", 1, receiver)
    [log] = settled(http, project, hook["id"])
    assert log["state"] == "failed" and log["attempts"] == 1
    sub = http.get(f"/projects/{project}/webhooks/{hook['id']}").json()
    assert sub["enabled"] is False and "410" in sub["disabled_reason"]
    await emit(settings, project, "run-complete", {"status": "failed", "version": 1}, ds=ev.decision_set_id)
    await asyncio.sleep(1.5)
    assert len(receiver.at("/gone")) == 1 and len(deliveries(http, project, hook["id"])) == 1
    r = http.post(f"/projects/{project}/webhooks/{hook['id']}/deliveries/{log['id']}/redeliver")
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    enabled = http.patch(f"/projects/{project}/webhooks/{hook['id']}", json={"enabled": True}).json()
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None


async def test_manual_redelivery_sends_the_same_message_again(http, settings, receiver) -> None:
    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/again"), ["plan.ready"])
    await emit(settings, project, "policy-update", {"overall": "pass", "rules": []})
    [first] = await wait_for("/again", 1, receiver)
    [log] = settled(http, project, hook["id"])
    r = http.post(f"/projects/{project}/webhooks/{hook['id']}/deliveries/{log['id']}/redeliver")
    assert r.status_code == 202, r.text
    reqs = await wait_for("/again", 2, receiver)
    assert reqs[1].headers["webhook-id"] == first.headers["webhook-id"] and reqs[1].body == first.body
    [log] = settled(http, project, hook["id"])
    assert log["attempts"] == 2 and log["state"] == "delivered"
    one = http.get(f"/projects/{project}/webhooks/{hook['id']}/deliveries/{log['id']}").json()
    assert json.loads(one["payload"])["type"] == "plan.ready" and len(one["attempt_log"]) == 2


async def test_secret_rotation_signs_with_both_during_the_overlap(http, settings, receiver) -> None:
    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/rotate"), ["gate.waiting"])
    rotated = http.post(f"/projects/{project}/webhooks/{hook['id']}/rotate-secret", json={"overlap_s": 3600})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != hook["secret"] and rotated.json()["previous_secret_expires_at"]
    await emit(settings, project, "gate-waiting", {"gate": "pre-codegen"})
    [req] = await wait_for("/rotate", 1, receiver)
    assert len(req.headers["webhook-signature"].split(" ")) == 2
    verify(new, req)
    verify(hook["secret"], req)
    latest = http.post(f"/projects/{project}/webhooks/{hook['id']}/rotate-secret", json={"overlap_s": 0}).json()
    await emit(settings, project, "gate-waiting", {"gate": "intake", "questions": [{"field": "regions"}]})
    reqs = await wait_for("/rotate", 2, receiver)
    verify(latest["secret"], reqs[1])
    with pytest.raises(Exception, match="signature"):
        verify(new, reqs[1])
    assert json.loads(reqs[1].body)["data"]["questions"] == ["regions"]


async def test_redelivered_batches_and_replicas_make_one_delivery(stack, http, settings, receiver) -> None:
    """The same EventBatch three times (as after a crash past the de-duplication window), two replicas: one chain."""
    stack.spawn_agent("webhooks-1")
    try:
        project = new_project(http)
        hook = subscribe(http, project, receiver.url("/once"), ["run.complete"])
        async with open_deps(settings, "test") as deps:
            async with deps.pool.acquire() as conn, conn.transaction():
                ds = (await store.create_decision_set(conn, project, requirements="x"))["id"]
                events = await store.insert_events(conn, [Event(type="run-complete", project_id=project,
                                                                decision_set_id=ds, run_id="t", node_name="n",
                                                                data={"status": "completed", "version": 1})],
                                                   uuid.uuid4().hex, None)
            body = EventBatch(events=events).model_dump_json().encode()
            for i in range(3):  # distinct message ids: JetStream does not drop them
                await publish(deps.js, Subjects.events(ds), body, f"replay-{uuid.uuid4().hex}-{i}")
        [req] = await wait_for("/once", 1, receiver)
        verify(hook["secret"], req)
        await asyncio.sleep(2.0)
        assert len(receiver.at("/once")) == 1
        assert len(deliveries(http, project, hook["id"])) == 1
    finally:
        stack.kill("webhooks-1")


async def test_killing_the_service_mid_retry_loses_nothing_and_duplicates_nothing(stack, http, settings,
                                                                                  receiver) -> None:
    slow = {"AMP_WEBHOOK_RETRY_SCHEDULE": "3,3,3", "AMP_WEBHOOK_JITTER": "0.1"}

    def waiting_after(attempts: int) -> dict:
        """The delivery once attempt `attempts` is recorded and the next one is scheduled: between attempts."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            [log] = deliveries(http, project, hook["id"])
            if log["state"] == "pending" and log["attempts"] == attempts:
                return log
            time.sleep(0.05)
        raise AssertionError(f"attempt {attempts} was not recorded: {deliveries(http, project, hook['id'])}")

    stack.kill("webhooks-0")
    stack.spawn_agent("webhooks-0", slow)
    try:
        project = new_project(http)
        hook = subscribe(http, project, receiver.url("/crash"), ["run.complete"])
        receiver.fail_then("/crash", 500, 500)
        await emit(settings, project, "run-complete", {"status": "completed", "version": 1})
        await wait_for("/crash", 1, receiver)
        log = waiting_after(1)
        stack.kill("webhooks-0")  # the first retry is ~3 s away
        assert log["next_attempt_at"] and len(receiver.at("/crash")) == 1
        await asyncio.sleep(3.5)  # the retry is due, and nobody is there to send it
        assert len(receiver.at("/crash")) == 1
        stack.spawn_agent("webhooks-0", slow)
        await wait_for("/crash", 2, receiver)
        waiting_after(2)
        stack.kill("webhooks-0")  # and once more, between the second and the third attempt
        stack.spawn_agent("webhooks-0", slow)
        reqs = await wait_for("/crash", 3, receiver)
        [log] = settled(http, project, hook["id"])
        await asyncio.sleep(1.0)
        reqs = receiver.at("/crash")
        assert [r.status for r in reqs] == [500, 500, 200]
        assert len({r.headers["webhook-id"] for r in reqs}) == 1
        assert log["state"] == "delivered" and log["attempts"] == 3
        assert [a["status_code"] for a in log["attempt_log"]] == [500, 500, 200]
    finally:
        stack.kill("webhooks-0")
        stack.spawn_agent("webhooks-0")


async def test_budget_warning_once_per_budget(http, settings, receiver) -> None:
    """Spending at 80 % of the project's LLM budget sends one budget.warning; the next batches send none."""
    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/budget"), ["budget.warning"])
    assert http.put(f"/projects/{project}/llm-budget", json={"limit_usd": 10}).status_code == 200
    async with open_deps(settings, "test") as deps:
        await deps.pool.execute("INSERT INTO llm_usage (project_id, node, provider, usd) VALUES ($1, 'planner', "
                                "'anthropic', 8.5)", uuid.UUID(project))
    ev = await emit(settings, project, "reason-card", {"summary": "a step that spent"})
    await emit(settings, project, "cost-update", {"monthly_usd": 1}, ds=ev.decision_set_id)
    [req] = await wait_for("/budget", 1, receiver)
    payload = verify(hook["secret"], req)
    assert payload["type"] == "budget.warning"
    assert payload["data"]["budget"] == {"limit_usd": 10.0, "spent_usd": 8.5, "remaining_usd": 1.5}
    await asyncio.sleep(1.5)
    assert len(receiver.at("/budget")) == 1


# --- a batch that cannot (all) be delivered ---------------------------------------------------

async def emit_batch(settings, project: str, events: list[tuple[str, dict]], status: str | None = None) -> list[Event]:
    """Several events of one new decision set (in `status`), recorded and published as one step's batch."""
    async with open_deps(settings, "test") as deps:
        async with deps.pool.acquire() as conn, conn.transaction():
            ds = (await store.create_decision_set(conn, project, requirements="x"))["id"]
            if status is not None:
                await store.update_decision_set(conn, ds, {"status": status})
            recorded = await store.insert_events(conn, [
                Event(type=t, project_id=project, decision_set_id=ds, run_id="test", node_name="test_node", data=d)
                for t, d in events], uuid.uuid4().hex, None)
        await publish_events(deps.js, recorded, uuid.uuid4().hex)
    return recorded


async def consumer_settles(settings, timeout: float = 30.0):
    """The webhooks consumer once every message it was given is acked (none waiting for a redelivery)."""
    from services.webhooks.app import DURABLE

    async with open_deps(settings, "test") as deps:
        deadline = time.monotonic() + timeout
        while True:
            info = await deps.js.consumer_info(settings.stream_name, DURABLE)
            if info.num_ack_pending == 0 and info.num_pending == 0:
                return info
            if time.monotonic() > deadline:
                raise AssertionError(f"the webhooks consumer did not settle: {info}")
            await asyncio.sleep(0.2)


async def dead_letters_now(pool, subject: str) -> list[dict]:
    return [dict(r) for r in await pool.fetch(
        "SELECT * FROM dead_letters WHERE service = 'webhooks' AND subject = $1", subject)]


async def webhook_dead_letters(settings, subject: str, timeout: float = 90.0) -> list[dict]:
    """The dead letters of `subject`, once there are any. A poison batch needs `max_deliver` deliveries
    with backoff (about 10 s in the suite's settings); the wait is long because the suite's shared webhooks
    service also records every other test's events, and on a loaded machine that queue can be long.
    When none arrive, the failure says where the message is and what the service logged."""
    from services.webhooks.app import DURABLE

    async with open_deps(settings, "test") as deps:
        deadline = time.monotonic() + timeout
        while True:
            rows = await dead_letters_now(deps.pool, subject)
            if rows:
                return rows
            if time.monotonic() > deadline:
                info = await deps.js.consumer_info(settings.stream_name, DURABLE)
                logs = sorted((settings.data_dir / "logs").glob("webhooks*.log"))
                tail = "\n".join(p.read_text(errors="replace")[-3000:] for p in logs)
                raise AssertionError(f"no dead letter for {subject} within {timeout} s; consumer {info}\n{tail}")
            await asyncio.sleep(0.2)


async def test_a_stopped_runs_gate_error_sends_only_its_run_error(http, settings, receiver) -> None:
    """What a step that kept failing (or the stall sweeper) publishes: a reason card, a run-error and a
    gate-waiting with gate "error". One run.error webhook; no gate.waiting; the batch is acked, not looped."""
    looped_before = (await consumer_settles(settings)).num_redelivered  # earlier tests' kills leave some
    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/stopped"), sorted(WEBHOOK_EVENTS))
    await emit_batch(settings, project, [
        ("reason-card", {"summary": "kept failing"}),
        ("run-error", {"code": "unavailable", "node_name": "planner", "message": "db down"}),
        ("gate-waiting", {"gate": "error", "message": "the run is stopped"}),
    ], status="stalled")
    [req] = await wait_for("/stopped", 1, receiver)
    payload = verify(hook["secret"], req)
    assert payload["type"] == "run.error" and payload["data"]["error_code"] == "unavailable"
    assert payload["data"]["status"] == "stalled"
    [log] = settled(http, project, hook["id"])
    assert log["event_type"] == "run.error" and log["state"] == "delivered"
    info = await consumer_settles(settings)
    assert info.num_redelivered <= looped_before  # none of this test's messages came back
    await asyncio.sleep(1.0)
    assert len(receiver.at("/stopped")) == 1 and len(deliveries(http, project, hook["id"])) == 1
    async with open_deps(settings, "test") as deps:
        assert await dead_letters_now(deps.pool, f"{Subjects.EVENTS}.{payload['data']['decision_set_id']}") == []


async def test_one_event_that_cannot_become_a_webhook_does_not_take_the_others(http, settings, receiver) -> None:
    """A malformed event (a policy result the payload contract refuses) is skipped; the rest of its batch goes."""
    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/mixed"), ["plan.ready", "run.error", "run.complete"])
    await emit_batch(settings, project, [
        ("policy-update", {"overall": "not-an-outcome", "rules": []}),
        ("run-error", {"code": "internal", "node_name": "policy"}),
        ("run-complete", {"status": "failed", "version": 1}),
    ])
    reqs = await wait_for("/mixed", 2, receiver)
    assert sorted(verify(hook["secret"], r)["type"] for r in reqs) == ["run.complete", "run.error"]
    await consumer_settles(settings)
    await asyncio.sleep(1.0)
    assert len(receiver.at("/mixed")) == 2
    assert sorted(d["event_type"] for d in settled(http, project, hook["id"])) == ["run.complete", "run.error"]


async def test_a_poison_batch_is_dead_lettered_and_the_service_keeps_serving(http, settings, receiver) -> None:
    """A batch whose deliveries can never be recorded is redelivered up to max_deliver, then parked as a dead
    letter (table and `amp.dlq.webhooks`) and acked; one that is not an EventBatch at all goes at once."""
    looped_before = (await consumer_settles(settings)).num_redelivered  # earlier tests' kills leave some
    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/after"), ["run.complete"])
    ds = str(uuid.uuid4())
    poison = EventBatch(events=[Event(id=10**15 + 7, type="run-complete", project_id="not-a-project-id",
                                      decision_set_id=ds, run_id="t", node_name="n",
                                      data={"status": "completed"})]).model_dump_json().encode()
    garbage_ds = str(uuid.uuid4())
    async with open_deps(settings, "test") as deps:
        await publish(deps.js, Subjects.events(ds), poison, f"poison-{uuid.uuid4().hex}")
        await publish(deps.js, Subjects.events(garbage_ds), b"{not an event batch", f"garbage-{uuid.uuid4().hex}")
    [garbage] = await webhook_dead_letters(settings, Subjects.events(garbage_ds), timeout=15)
    assert garbage["code"] == "validation_failed" and bytes(garbage["body"]) == b"{not an event batch"
    # the service serves others while the poison batch waits for its redeliveries
    await emit(settings, project, "run-complete", {"status": "completed", "version": 1})
    [req] = await wait_for("/after", 1, receiver)
    assert verify(hook["secret"], req)["type"] == "run.complete"
    [row] = await webhook_dead_letters(settings, Subjects.events(ds))
    assert row["node"] == "record" and row["code"] == "internal" and bytes(row["body"]) == poison
    assert row["project_id"] is None  # nothing in it names a project
    async with open_deps(settings, "test") as deps:
        copy = await deps.js.get_last_msg(settings.stream_name, Subjects.dead_letter("webhooks"))
        assert copy.headers and copy.headers["Amp-Subject"] in (Subjects.events(ds), Subjects.events(garbage_ds))
    info = await consumer_settles(settings)
    assert info.num_redelivered <= looped_before  # the poison batch no longer comes back


async def test_a_replayed_create_or_rotate_repeats_its_secret_without_storing_it(http, settings, receiver) -> None:
    """Idempotency-Key on the two answers that carry a secret: a retry gets the same answer (the same secret,
    one subscription, one rotation), yet the idempotency record never holds the secret; once the secret is
    rotated again, a replay has nothing to repeat and answers 409."""
    project = new_project(http)
    create = {"Idempotency-Key": f"create-{uuid.uuid4().hex}"}
    body = {"url": receiver.url("/idem"), "events": ["run.complete"], "description": "idem"}
    first = http.post(f"/projects/{project}/webhooks", json=body, headers=create)
    assert first.status_code == 201, first.text
    again = http.post(f"/projects/{project}/webhooks", json=body, headers=create)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and again.json()["secret"].startswith("whsec_")
    hook = first.json()
    assert [h["id"] for h in http.get(f"/projects/{project}/webhooks").json()["webhooks"]] == [hook["id"]]
    rotate = {"Idempotency-Key": f"rotate-{uuid.uuid4().hex}"}
    url = f"/projects/{project}/webhooks/{hook['id']}/rotate-secret"
    rotated = http.post(url, json={"overlap_s": 0}, headers=rotate)
    assert rotated.status_code == 200 and rotated.json()["secret"] != hook["secret"]
    replayed = http.post(url, json={"overlap_s": 0}, headers=rotate)
    assert replayed.status_code == 200 and replayed.headers["idempotent-replayed"] == "true"
    assert replayed.json()["secret"] == rotated.json()["secret"]  # one rotation, not two
    async with open_deps(settings, "test") as deps:
        kept = [r["response"] for r in await deps.pool.fetch(
            "SELECT response::text AS response FROM idempotency_keys WHERE key = ANY($1)",
            [create["Idempotency-Key"], rotate["Idempotency-Key"]])]
    assert len(kept) == 2 and all("whsec_" not in k for k in kept)
    # the create's secret is no longer the subscription's: its replay has nothing to repeat
    gone = http.post(f"/projects/{project}/webhooks", json=body, headers=create)
    assert gone.status_code == 409 and "rotate" in gone.json()["error"]["message"].lower()
    assert "whsec_" not in gone.text
    http.post(url, json={"overlap_s": 0})
    assert http.post(url, json={"overlap_s": 0}, headers=rotate).status_code == 409
    # a new key rotates as usual
    fresh = http.post(url, json={"overlap_s": 0}, headers={"Idempotency-Key": f"rotate-{uuid.uuid4().hex}"})
    assert fresh.status_code == 200 and fresh.json()["secret"].startswith("whsec_")


async def test_a_webhooks_dead_letter_is_replayed_whatever_its_runs_status(http, settings, receiver) -> None:
    """A webhooks dead letter leaves its run alone, is listed to the project's owner, and a replay sends the
    webhooks it had held back, even though its decision set has ended (an agent's would be refused)."""
    from services.webhooks.delivery import Webhooks, dead_letter

    project = new_project(http)
    hook = subscribe(http, project, receiver.url("/replayed"), ["run.complete"])
    async with open_deps(settings, "test") as deps:
        async with deps.pool.acquire() as conn, conn.transaction():
            ds = (await store.create_decision_set(conn, project, requirements="x"))["id"]
            await store.update_decision_set(conn, ds, {"status": "failed"})
            events = await store.insert_events(conn, [Event(type="run-complete", project_id=project,
                                                            decision_set_id=ds, run_id="t", node_name="n",
                                                            data={"status": "failed", "version": 1})],
                                               uuid.uuid4().hex, None)
        batch = EventBatch(events=events)
        svc = Webhooks(pool=deps.pool, settings=settings, sender=None, js=deps.js)  # type: ignore[arg-type]
        await dead_letter(svc, Subjects.events(ds), batch.model_dump_json().encode(),
                          "recording webhook deliveries failed: an outage", "unavailable", batch)
    letter = next(d for d in http.get("/dead-letters").json()["dead_letters"] if d["decision_set_id"] == ds)
    assert (letter["service"], letter["node"], letter["code"]) == ("webhooks", "record", "unavailable")
    assert http.get(f"/decision-sets/{ds}").json()["status"] == "failed"  # the run is not touched
    assert receiver.at("/replayed") == []
    r = http.post(f"/dead-letters/{letter['id']}/replay", json={})
    assert r.status_code == 202, r.text
    [req] = await wait_for("/replayed", 1, receiver)
    assert verify(hook["secret"], req)["data"]["status"] == "failed"
    await asyncio.sleep(1.0)
    assert len(receiver.at("/replayed")) == 1
