"""The exactly-once step protocol and the consumer semantics, over real NATS JetStream and Postgres."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from amp_contracts import Envelope, EventBatch, GateExpire, Subjects
from amp_runtime import store
from amp_runtime.agent import Route, agent_app
from amp_runtime.bootstrap import open_deps
from amp_runtime.bus import publish
from amp_runtime.cards import event
from amp_runtime.step import StepResult, run_step
from amp_runtime.step_store import PostgresStepStore

from tests.integration.rows import new_decision_set

pytestmark = pytest.mark.integration


async def events_of(pool, ds: str, after: int = 0) -> list:
    """The decision set's events, read as the gateway reads them: scoped to its project."""
    row = await store.find_decision_set(pool, ds)
    return await store.list_events(pool, ds, project_id=row["project_id"], after=after)


def envelope(pid: str, ds: str, kind: str = "reminder") -> Envelope:
    return Envelope[GateExpire](project_id=pid, decision_set_id=ds, run_id=str(uuid.uuid4()),
                                payload=GateExpire(interrupt_id="i-1", kind=kind))


async def test_publish_dedupes_on_msg_id(settings) -> None:
    async with open_deps(settings, "test") as deps:
        subject = f"amp.test.dedupe.{uuid.uuid4().hex[:6]}"
        assert await publish(deps.js, subject, b"one", "same-id") is True
        assert await publish(deps.js, subject, b"two", "same-id") is False


async def test_step_runs_once_and_replays_its_output(settings) -> None:
    async with open_deps(settings, "test") as deps:
        pid, ds = await new_decision_set(deps.pool)
        env = envelope(pid, ds)
        calls = []
        sub = await deps.nc.subscribe(Subjects.events(ds))

        async def compute(key: str) -> StepResult:
            calls.append(key)
            return StepResult(events=[event(env, "gate-reminder", "gate_hitl", {"n": len(calls)})],
                              ds_update={"stage": "tested"})

        steps = PostgresStepStore(deps.pool, deps.js)
        first = await run_step(steps, "test", "node", env, compute)
        second = await run_step(steps, "test", "node", env, compute)
        assert len(calls) == 1
        assert not first.replayed and second.replayed
        assert [e.id for e in first.events] == [e.id for e in second.events]
        rows = await events_of(deps.pool, ds)
        assert [e.type for e in rows] == ["gate-reminder"]
        assert (await store.find_decision_set(deps.pool, ds))["stage"] == "tested"
        live = await sub.next_msg(timeout=2)  # one EventBatch for the step, with the recorded ids
        batch = EventBatch.model_validate_json(live.data)
        assert [(e.id, e.type) for e in batch.events] == [(e.id, e.type) for e in first.events]
        await sub.unsubscribe()


async def test_a_replay_returns_the_recorded_events_whole_and_in_order_without_a_second_copy(settings) -> None:
    """The step's record names where its events are; a replay reads them back from `events`, across
    decision sets in the order the step made them, every field as first recorded."""
    async with open_deps(settings, "test") as deps:
        pid, ds = await new_decision_set(deps.pool)
        async with deps.pool.acquire() as conn:
            other = (await store.create_decision_set(conn, pid, requirements="y", parent_id=ds))["id"]
        env = envelope(pid, ds)

        async def compute(key: str) -> StepResult:
            return StepResult(events=[event(env, "gate-reminder", "gate_hitl", {"n": 1}, other),
                                      event(env, "gate-reminder", "gate_hitl", {"n": 2, "card": {"x": [1, 2]}}),
                                      event(env, "gate-reminder", "gate_hitl", {"n": 3}, other)])

        steps = PostgresStepStore(deps.pool, deps.js)
        first = await run_step(steps, "test", "node", env, compute)
        raw = await deps.pool.fetchval("SELECT output FROM agent_runs WHERE idem_key = $1", first.key)
        assert "events" not in raw and sorted(raw["event_sets"]) == sorted([ds, other])
        second = await run_step(steps, "test", "node", env, compute)
        assert second.replayed
        assert [e.data["n"] for e in second.events] == [1, 2, 3]
        assert [e.model_dump() for e in second.events] == [e.model_dump() for e in first.events]


async def test_concurrent_deliveries_of_one_step_commit_once(settings) -> None:
    async with open_deps(settings, "test") as deps:
        pid, ds = await new_decision_set(deps.pool)
        env = envelope(pid, ds)

        async def compute(key: str) -> StepResult:
            await asyncio.sleep(0.05)
            return StepResult(events=[event(env, "gate-reminder", "gate_hitl", {})])

        steps = PostgresStepStore(deps.pool, deps.js)
        a, b = await asyncio.gather(run_step(steps, "test", "node", env, compute),
                                    run_step(steps, "test", "node", env, compute))
        assert [e.id for e in a.events] == [e.id for e in b.events]
        assert len(await events_of(deps.pool, ds)) == 1


async def test_a_steps_status_change_comes_first_among_its_events_once(settings) -> None:
    """The transition a step's update makes is recorded with the step's own events, numbered before
    them, in the step's transaction: a replay and a concurrent second delivery add none."""
    async with open_deps(settings, "test") as deps:
        pid, ds = await new_decision_set(deps.pool)
        env = envelope(pid, ds)

        async def compute(key: str) -> StepResult:
            await asyncio.sleep(0.05)
            return StepResult(events=[event(env, "gate-reminder", "gate_hitl", {}),
                                      event(env, "gate-reminder", "gate_hitl", {"second": True})],
                              ds_update={"status": "planning", "stage": "planner"})

        steps = PostgresStepStore(deps.pool, deps.js)
        a, b = await asyncio.gather(run_step(steps, "test", "node", env, compute),
                                    run_step(steps, "test", "node", env, compute))
        again = await run_step(steps, "test", "node", env, compute)
        rows = await events_of(deps.pool, ds)
        assert [e.type for e in rows] == ["status-change", "gate-reminder", "gate-reminder"]
        assert [e.number for e in rows] == [1, 2, 3]
        assert (rows[0].data["from"], rows[0].data["to"]) == ("intake", "planning")
        assert [e.id for e in a.events] == [e.id for e in b.events] == [e.id for e in again.events] \
            == [e.id for e in rows]
        assert (await store.find_decision_set(deps.pool, ds))["status"] == "planning"


async def test_optimistic_lock_serialises_concurrent_updates(settings) -> None:
    async with open_deps(settings, "test") as deps:
        _, ds = await new_decision_set(deps.pool)

        async def bump(i: int) -> None:
            async with deps.pool.acquire() as conn:
                await store.update_decision_set(conn, ds, {"stage": f"s{i}"}, attempts=50)

        await asyncio.gather(*(bump(i) for i in range(10)))
        row = await store.find_decision_set(deps.pool, ds)
        assert row["lock_version"] == 10


async def test_a_write_resting_on_a_stale_read_is_a_conflict(settings) -> None:
    from amp_contracts import ConflictError

    async with open_deps(settings, "test") as deps:
        _, ds = await new_decision_set(deps.pool)
        read = await store.find_decision_set(deps.pool, ds)
        async with deps.pool.acquire() as conn:
            await store.update_decision_set(conn, ds, {"stage": "someone-else"})
            with pytest.raises(ConflictError):
                await store.update_decision_set(conn, ds, {"stage": "mine"}, expect_lock_version=read["lock_version"])
            fresh = await store.find_decision_set(deps.pool, ds)
            await store.update_decision_set(conn, ds, {"stage": "mine"}, expect_lock_version=fresh["lock_version"])
        assert (await store.find_decision_set(deps.pool, ds))["stage"] == "mine"


async def test_only_one_conditional_transition_wins(settings) -> None:
    from amp_contracts import ConflictError

    async with open_deps(settings, "test") as deps:
        _, ds = await new_decision_set(deps.pool)
        async with deps.pool.acquire() as conn, conn.transaction():
            await store.update_decision_set(conn, ds, {"status": "planning"})
            await store.update_decision_set(conn, ds, {"status": "waiting_approval"})

        async def decide() -> bool:
            async with deps.pool.acquire() as conn, conn.transaction():
                try:
                    await store.update_decision_set(conn, ds, {"status": "deciding"}, expect_status={"waiting_approval"})
                    return True
                except ConflictError:
                    return False

        results = await asyncio.gather(*(decide() for _ in range(5)))
        assert results.count(True) == 1
        changes = [e.data for e in await events_of(deps.pool, ds) if e.type == "status-change"]
        assert [(c["from"], c["to"]) for c in changes] == [("intake", "planning"), ("planning", "waiting_approval"),
                                                          ("waiting_approval", "deciding")]


async def test_the_lifecycle_refuses_an_illegal_transition_atomically(settings) -> None:
    from amp_contracts import IllegalTransition

    async with open_deps(settings, "test") as deps:
        _, ds = await new_decision_set(deps.pool)
        async with deps.pool.acquire() as conn, conn.transaction():
            with pytest.raises(IllegalTransition, match="intake: it cannot become completed"):
                await store.update_decision_set(conn, ds, {"status": "completed"})
        async with deps.pool.acquire() as conn, conn.transaction():
            await store.update_decision_set(conn, ds, {"status": "failed"})
        for late in ("planning", "failed", "completed"):  # a finished decision set is final
            async with deps.pool.acquire() as conn, conn.transaction():
                with pytest.raises(IllegalTransition):
                    await store.update_decision_set(conn, ds, {"status": late})
        row = await store.find_decision_set(deps.pool, ds)
        assert row["status"] == "failed"


def private_subject(service: str) -> str:
    """A subject no platform service consumes, so the session's running stack stays out of the way."""
    return f"amp.test.{service}"


def _test_app(settings, service: str, seen: list, fail_times: int = 0):
    attempts = {"n": 0}
    subject = private_subject(service)

    def make_routes(deps):
        async def handler(env: Envelope, key: str) -> StepResult:
            attempts["n"] += 1
            if attempts["n"] <= fail_times:
                raise RuntimeError("transient failure")
            seen.append(env.decision_set_id)
            return StepResult(events=[event(env, "gate-reminder", "gate_hitl", {"by": service})])

        return [Route(subject, "gate_expire", handler, Envelope[GateExpire])]

    return agent_app(service, settings, make_routes, subscriptions={subject: "gate_expire"}), attempts


async def _serve(app):
    await app.start()
    return app


async def wait_for(predicate, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_poison_message_dead_letters_and_service_keeps_serving(settings) -> None:
    service = f"poison{uuid.uuid4().hex[:4]}"
    seen: list[str] = []
    app, _ = _test_app(settings, service, seen)
    await app.start()
    try:
        async with open_deps(settings, "test") as deps:
            pid, ds = await new_decision_set(deps.pool)
            dlq = await deps.nc.subscribe(Subjects.dead_letter(service))
            ended = await deps.nc.subscribe(Subjects.RUN_COMPLETED)
            bad = b'{"project_id": "%s", "decision_set_id": "%s", "run_id": "r", "payload": {"kind": 42}}' % (
                pid.encode(), ds.encode())
            await publish(deps.js, private_subject(service), bad, f"bad-{uuid.uuid4()}")
            await publish(deps.js, private_subject(service), b"not json at all", f"bad-{uuid.uuid4()}")
            parked = [await dlq.next_msg(timeout=10), await dlq.next_msg(timeout=10)]
            assert {m.data for m in parked} == {bad, b"not json at all"}
            assert "validation" in parked[0].headers["Amp-Reason"]

            async def errored() -> bool:
                return [e.type for e in await events_of(deps.pool, ds)] == ["status-change", "reason-card", "run-error",
                                                                                    "run-complete"]

            await wait_for(errored)
            while True:  # subscribers of amp.run.completed hear of the failure too
                msg = json.loads((await ended.next_msg(timeout=10)).data)
                if msg["decision_set_id"] == ds:
                    assert msg["payload"]["status"] == "failed"
                    break
            _, ds2 = await new_decision_set(deps.pool)
            good = envelope(pid, ds2)
            await publish(deps.js, private_subject(service), good.model_dump_json().encode(), f"good-{uuid.uuid4()}")

            async def served() -> bool:
                return ds2 in seen

            await wait_for(served)
    finally:
        await app.stop()


async def test_failing_step_is_redelivered_then_succeeds(settings) -> None:
    service = f"retry{uuid.uuid4().hex[:4]}"
    seen: list[str] = []
    app, attempts = _test_app(settings, service, seen, fail_times=1)
    await app.start()
    try:
        async with open_deps(settings, "test") as deps:
            pid, ds = await new_decision_set(deps.pool)
            await publish(deps.js, private_subject(service), envelope(pid, ds).model_dump_json().encode(),
                          f"retry-{uuid.uuid4()}")

            async def recorded() -> bool:  # the step commits after its handler returns
                return ds in seen and bool(await events_of(deps.pool, ds))

            await wait_for(recorded)
            assert attempts["n"] == 2
            assert [e.type for e in await events_of(deps.pool, ds)] == ["gate-reminder"]
    finally:
        await app.stop()


async def test_replicas_share_one_durable_consumer(settings) -> None:
    service = f"shared{uuid.uuid4().hex[:4]}"
    seen_a: list[str] = []
    seen_b: list[str] = []
    app_a, _ = _test_app(settings, service, seen_a)
    app_b, _ = _test_app(settings, service, seen_b)
    await app_a.start()
    await app_b.start()
    try:
        async with open_deps(settings, "test") as deps:
            pid, _ = await new_decision_set(deps.pool)
            sent = []
            for _ in range(20):
                _, ds = await new_decision_set(deps.pool)
                sent.append(ds)
                await publish(deps.js, private_subject(service), envelope(pid, ds).model_dump_json().encode(),
                              f"share-{uuid.uuid4()}")

            mine = set(sent)  # a new durable also replays earlier tests' messages on the subject

            async def all_served() -> bool:
                return mine <= set(seen_a) | set(seen_b)

            await wait_for(all_served)
            a, b = [x for x in seen_a if x in mine], [x for x in seen_b if x in mine]
            assert sorted(a + b) == sorted(sent)  # each message handled once in all
            assert a and b  # and the replicas split the work
    finally:
        await app_a.stop()
        await app_b.stop()




async def test_a_publish_that_fails_after_commit_is_sent_by_the_outbox_relay(settings) -> None:
    from amp_runtime import outbox
    from amp_runtime.bus import connect

    async with open_deps(settings, "test") as deps:
        pid, ds = await new_decision_set(deps.pool)
        env = envelope(pid, ds)
        subject = f"amp.test.next.{uuid.uuid4().hex[:6]}"
        sub = await deps.nc.subscribe(subject)
        dead = await connect(settings.nats_servers, "test-dead")
        dead_js = dead.jetstream()
        await dead.close()  # the bus is gone between the commit and the publish

        async def compute(key: str) -> StepResult:
            return StepResult(events=[event(env, "gate-reminder", "gate_hitl", {})],
                              messages=[(subject, envelope(pid, ds, "expire"))])

        record = await run_step(PostgresStepStore(deps.pool, dead_js), "test", "node", env, compute)  # committed: no exception
        assert not record.replayed
        unsent = await deps.pool.fetch("SELECT msg_id FROM outbox WHERE decision_set_id = $1 AND sent_at IS NULL",
                                       uuid.UUID(ds))
        assert {r["msg_id"] for r in unsent} == {f"{record.key}:0", f"evts:{record.key}:{ds}"}
        await deps.pool.execute("UPDATE outbox SET next_attempt_at = now() WHERE decision_set_id = $1", uuid.UUID(ds))
        assert await outbox.relay_once(deps.pool, deps.js) >= 2
        got = await sub.next_msg(timeout=5)
        assert json.loads(got.data)["payload"]["kind"] == "expire"
        assert await deps.pool.fetchval("SELECT count(*) FROM outbox WHERE decision_set_id = $1 AND sent_at IS NULL",
                                        uuid.UUID(ds)) == 0
        with pytest.raises(Exception):  # noqa: B017 - nats-py's timeout: no second copy reached the subject
            await sub.next_msg(timeout=1)
        await sub.unsubscribe()


async def test_relays_racing_send_each_row_once(settings) -> None:
    from amp_runtime import outbox

    async with open_deps(settings, "test") as deps:
        pid, ds = await new_decision_set(deps.pool)
        subject = f"amp.test.relay.{uuid.uuid4().hex[:6]}"
        sub = await deps.nc.subscribe(subject)
        async with deps.pool.acquire() as conn, conn.transaction():
            for i in range(40):
                await store.add_outbox(conn, pid, subject, f"relay-{uuid.uuid4()}", str(i).encode(), ds)
        await asyncio.gather(*(outbox.relay_once(deps.pool, deps.js) for _ in range(4)))
        seen = []
        while True:
            try:
                seen.append(int((await sub.next_msg(timeout=1)).data))
            except Exception:  # noqa: BLE001 - nats-py's timeout: nothing more came
                break
        assert sorted(seen) == list(range(40))
        await sub.unsubscribe()


async def test_event_numbers_are_gapless_and_commit_in_order_under_concurrent_writers(settings) -> None:
    async with open_deps(settings, "test") as deps:
        pid, ds = await new_decision_set(deps.pool)
        env = envelope(pid, ds)
        first_in = asyncio.Event()
        release = asyncio.Event()

        async def slow_writer() -> list:
            async with deps.pool.acquire() as conn, conn.transaction():
                evs = await store.insert_events(conn, [event(env, "gate-reminder", "slow", {})], "slow", None)
                first_in.set()
                await release.wait()  # hold the transaction open while another writer tries
                return evs

        async def fast_writer(i: int) -> list:
            async with deps.pool.acquire() as conn, conn.transaction():
                return await store.insert_events(conn, [event(env, "gate-reminder", f"fast{i}", {}),
                                                        event(env, "gate-stale", f"fast{i}", {})], f"fast{i}", None)

        slow = asyncio.create_task(slow_writer())
        await first_in.wait()
        fast = [asyncio.create_task(fast_writer(i)) for i in range(6)]  # the pool keeps one connection to read
        await asyncio.sleep(0.5)
        # while the first writer is open, no later event is visible: a reader cannot skip its number
        assert await events_of(deps.pool, ds) == []
        release.set()
        written = [await slow] + [await f for f in fast]
        numbers = sorted(e.number for evs in written for e in evs)
        assert numbers == list(range(1, 14))
        assert written[0][0].number == 1
        listed = await events_of(deps.pool, ds, after=5)
        assert [e.number for e in listed] == list(range(6, 14))
        for evs in written[1:]:  # one writer's events are consecutive
            assert evs[1].number == evs[0].number + 1


async def test_a_slow_step_heartbeats_past_ack_wait_and_runs_once(settings) -> None:
    service = f"slow{uuid.uuid4().hex[:4]}"
    subject = private_subject(service)
    calls: list[str] = []

    def make_routes(deps):
        async def handler(env: Envelope, key: str) -> StepResult:
            calls.append(env.decision_set_id)
            await asyncio.sleep(settings.ack_wait_s * 2)  # longer than ack_wait: without a heartbeat, redelivered
            return StepResult(events=[event(env, "gate-reminder", "gate_hitl", {})])

        return [Route(subject, "gate_expire", handler, Envelope[GateExpire])]

    app = agent_app(service, settings, make_routes, subscriptions={subject: "gate_expire"})
    await app.start()
    try:
        async with open_deps(settings, "test") as deps:
            pid, ds = await new_decision_set(deps.pool)
            await publish(deps.js, subject, envelope(pid, ds).model_dump_json().encode(), f"slow-{uuid.uuid4()}")

            async def recorded() -> bool:
                return bool(await events_of(deps.pool, ds))

            await wait_for(recorded, timeout=60)
            await asyncio.sleep(settings.ack_wait_s)
            assert calls == [ds]
    finally:
        await app.stop()


async def test_transient_errors_are_retried_and_permanent_ones_dead_lettered_at_once(settings) -> None:
    from amp_contracts import ProviderDown, ValidationFailed

    service = f"kinds{uuid.uuid4().hex[:4]}"
    subject = private_subject(service)
    attempts: dict[str, int] = {}

    def make_routes(deps):
        async def handler(env: Envelope, key: str) -> StepResult:
            attempts[env.decision_set_id] = attempts.get(env.decision_set_id, 0) + 1
            if env.payload.kind == "reminder" and attempts[env.decision_set_id] == 1:
                raise ProviderDown("the model provider is briefly unavailable")
            if env.payload.kind == "expire":
                raise ValidationFailed("this input can never succeed")
            return StepResult(events=[event(env, "gate-reminder", "gate_hitl", {})])

        return [Route(subject, "gate_expire", handler, Envelope[GateExpire])]

    app = agent_app(service, settings, make_routes, subscriptions={subject: "gate_expire"})
    await app.start()
    try:
        async with open_deps(settings, "test") as deps:
            pid, transient = await new_decision_set(deps.pool)
            other, permanent = await new_decision_set(deps.pool)
            await publish(deps.js, subject, envelope(pid, transient).model_dump_json().encode(), f"t-{uuid.uuid4()}")
            await publish(deps.js, subject, envelope(other, permanent, "expire").model_dump_json().encode(),
                          f"p-{uuid.uuid4()}")

            async def settled() -> bool:
                a = [e.type for e in await events_of(deps.pool, transient)]
                b = [e.type for e in await events_of(deps.pool, permanent)]
                return "gate-reminder" in a and "run-complete" in b

            await wait_for(settled, timeout=60)
            assert attempts[transient] == 2  # retried, not dead-lettered
            assert attempts[permanent] == 1  # dead-lettered on its first failure
            assert (await store.find_decision_set(deps.pool, permanent))["status"] == "failed"
            letters = [d for d in await store.list_dead_letters(deps.pool) if d["decision_set_id"] == permanent]
            assert [d["code"] for d in letters] == ["validation_failed"]
    finally:
        await app.stop()


async def test_a_dead_letter_never_changes_a_finished_decision_set(settings) -> None:
    from amp_runtime.agent import dead_letter

    async with open_deps(settings, "test") as deps:
        pid, ds = await new_decision_set(deps.pool)
        async with deps.pool.acquire() as conn, conn.transaction():
            for status in ("planning", "waiting_approval", "deciding", "generating", "completed"):
                await store.update_decision_set(conn, ds, {"status": status})
        before = await events_of(deps.pool, ds)
        data = envelope(pid, ds).model_dump_json().encode()
        steps = PostgresStepStore(deps.pool, deps.js)
        await dead_letter(steps, "test", Route("amp.test.late", "gate_expire"), data, "late message", "internal")
        await dead_letter(steps, "test", Route("amp.test.late", "gate_expire"), data, "late message", "unavailable",
                          permanent=False)
        assert (await store.find_decision_set(deps.pool, ds))["status"] == "completed"
        assert await events_of(deps.pool, ds) == before
        assert any(d["decision_set_id"] == ds for d in await store.list_dead_letters(deps.pool))  # kept for triage


async def test_the_sweeper_redrives_a_stalled_decision_set_then_stops_it_resumably(settings) -> None:
    from amp_runtime import sweeper

    async with open_deps(settings, "test") as deps:
        pid, ds = await new_decision_set(deps.pool)
        subject = f"amp.test.stuck.{uuid.uuid4().hex[:6]}"
        sub = await deps.nc.subscribe(subject)
        async with deps.pool.acquire() as conn, conn.transaction():
            await store.update_decision_set(conn, ds, {"status": "planning"})
            await store.add_outbox(conn, pid, subject, f"stuck-{ds}", envelope(pid, ds).model_dump_json().encode(), ds)
            # Sent already, in the same transaction: the outbox relay never sees it unsent (and
            # publishes the original before the redrive the test waits for).
            await conn.execute("UPDATE outbox SET sent_at = now() WHERE decision_set_id = $1", uuid.UUID(ds))

        async def age() -> None:
            await deps.pool.execute("UPDATE decision_sets SET updated_at = now() - interval '1 hour' WHERE id = $1",
                                    uuid.UUID(ds))

        await age()
        done = await sweeper.sweep_once(deps.pool, deps.js, stall_after_s=60, max_redrives=1)
        assert f"redrive {ds} 1" in done
        got = await sub.next_msg(timeout=5)  # the last message again, under a new id
        assert got.headers["Nats-Msg-Id"] == f"stuck-{ds}:redrive:1"
        assert (await store.find_decision_set(deps.pool, ds))["status"] == "planning"
        assert f"redrive {ds} 1" not in await sweeper.sweep_once(deps.pool, deps.js, 60, 1)  # fresh again
        await age()
        assert f"stalled {ds}" in await sweeper.sweep_once(deps.pool, deps.js, 60, 1)
        row = await store.find_decision_set(deps.pool, ds)
        assert row["status"] == "stalled" and row["gate"]["gate"] == "error" and row["gate"]["subject"] == subject
        types = [e.type for e in await events_of(deps.pool, ds)]
        assert types[-3:] == ["reason-card", "run-error", "gate-waiting"]
        await sub.unsubscribe()


async def test_a_step_record_and_its_outbox_rows_are_written_together_once(settings) -> None:
    async with open_deps(settings, "test") as deps:
        pid, ds = await new_decision_set(deps.pool)
        key = f"k-{uuid.uuid4().hex}"
        rows = [("amp.test.a", f"{key}:0", b"a", ds), ("amp.test.b", f"{key}:1", b"b", None)]
        async with deps.pool.acquire() as conn:
            first = await store.record_run(conn, key, pid, ds, "test", "node", {"events": []}, 1.0, rows)
            again = await store.record_run(conn, key, pid, ds, "test", "node", {"events": []}, 1.0,
                                           [("amp.test.c", f"{key}:2", b"c", ds)])
            none = await store.record_run(conn, f"{key}-quiet", pid, ds, "test", "node", {}, 1.0, [])
            outbox = await conn.fetch("SELECT id, msg_id, body FROM outbox WHERE msg_id LIKE $1 ORDER BY id", f"{key}%")
        assert first is not None and len(first) == 2 and first == sorted(first)
        assert again is None, "a recorded step is not recorded again"
        assert none == [], "a step that publishes nothing is recorded all the same"
        assert [(r["id"], r["msg_id"], r["body"]) for r in outbox] == [(first[0], f"{key}:0", b"a"),
                                                                       (first[1], f"{key}:1", b"b")]
        assert (await store.get_run(deps.pool, f"{key}-quiet")) is not None


async def test_what_a_step_published_is_marked_sent_in_the_background_and_on_close(settings) -> None:
    from amp_runtime import outbox

    async with open_deps(settings, "test") as deps:
        pid, ds = await new_decision_set(deps.pool)
        env = envelope(pid, ds)

        async def compute(key: str) -> StepResult:
            return StepResult(events=[event(env, "gate-reminder", "gate_hitl", {})])

        await run_step(PostgresStepStore(deps.pool, deps.js, deps.sent_marks), "test", "node", env, compute)
        unsent = "SELECT count(*) FROM outbox WHERE decision_set_id = $1 AND sent_at IS NULL"
        total = "SELECT count(*) FROM outbox WHERE decision_set_id = $1"
        assert await deps.pool.fetchval(total, uuid.UUID(ds)) >= 1
        for _ in range(100):  # the marker's own task, a moment later
            if await deps.pool.fetchval(unsent, uuid.UUID(ds)) == 0:
                break
            await asyncio.sleep(0.05)
        assert await deps.pool.fetchval(unsent, uuid.UUID(ds)) == 0

        # what is still waiting when the process closes is marked on the way out
        marks = outbox.SentMarks(deps.pool, gather_s=60.0)
        async with deps.pool.acquire() as conn:
            # as a writer adds it: no relay (other stacks share this database) takes it within the grace
            oid = await store.add_outbox(conn, pid, "amp.test.marks", f"marks-{uuid.uuid4()}", b"x", ds,
                                         relay_after_s=outbox.WRITER_GRACE_S)
        runner = asyncio.create_task(marks.run())
        marks.add([oid])
        await asyncio.sleep(0.1)
        assert await deps.pool.fetchval("SELECT sent_at FROM outbox WHERE id = $1", oid) is None  # still gathering
        runner.cancel()
        await marks.flush()
        assert await deps.pool.fetchval("SELECT sent_at FROM outbox WHERE id = $1", oid) is not None


async def test_versions_are_numbered_by_the_projects_counter_and_an_unknown_project_is_not_found(settings) -> None:
    from amp_contracts import NotFound

    async with open_deps(settings, "test") as deps:
        pid, first = await new_decision_set(deps.pool)
        async with deps.pool.acquire() as conn:
            second = await store.create_decision_set(conn, pid, requirements="y", parent_id=first,
                                                     input_constraints={"budget_usd": 10})
            with pytest.raises(NotFound):
                await store.create_decision_set(conn, str(uuid.uuid4()), requirements="z")
        assert [(await store.find_decision_set(deps.pool, d))["version"] for d in (first, second["id"])] == [1, 2]
        assert second["parent_id"] == first and second["input_constraints"] == {"budget_usd": 10}
        assert await deps.pool.fetchval("SELECT ds_count FROM projects WHERE id = $1", uuid.UUID(pid)) == 2
