"""The runtime of one agent service: a FastStream app with a durable pull consumer per input subject.

Replicas share each durable consumer, so they split the work. A message is acked only after its
step is durable; a failing step is redelivered with backoff up to `max_deliver`; then, or at once
for a message that can never succeed (it fails validation), it goes to the dead-letter subject
with a `run-error` event, and the service keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from amp_contracts import (
    AmpError,
    BudgetExceeded,
    Envelope,
    Event,
    GateWaiting,
    IllegalTransition,
    ReasonCard,
    RunComplete,
    RunCompleted,
    RunError,
    Subjects,
    envelope_of,
    envelope_type,
    step_for,
    steps_of,
)
from faststream import AckPolicy, FastStream
from faststream.nats import ConsumerConfig, JStream, NatsBroker, NatsMessage, PullSub
from nats.errors import NotJSMessageError
from opentelemetry import trace
from pydantic import ValidationError

from . import metrics, outbox
from .bootstrap import open_deps
from .calls import call_context, new_call
from .deps import Deps
from .providers import budget_guard
from .retry import Failure, classify, redelivery_delay
from .settings import Settings
from .step import StepRecord, StepResult, queue_events, run_step, step_key
from .step_store import PostgresStepStore, StepStore
from .telemetry import broker_middlewares, housekeeping_task

log = logging.getLogger("amp.agent")

Handler = Callable[[Envelope, str], Awaitable[StepResult]]


@dataclass
class Route:
    subject: str
    node: str
    handler: Handler | None = None
    envelope: type[Envelope] | None = None  # defaults to the contracts' envelope of the subject


def route(subject: str, handler: Handler) -> Route:
    """The route of a pipeline subject: its step's node name comes from the pipeline table."""
    return Route(subject, step_for(subject).node, handler)


def bind(handlers: dict[str, Callable[[Any, Envelope, str], Awaitable[StepResult]]], svc: Any) -> list[Route]:
    """The routes of a service's handlers (subject → `handler(svc, envelope, key)`), bound to `svc`."""
    return [route(subject, partial(handler, svc)) for subject, handler in handlers.items()]


def durable_name(service: str, subject: str) -> str:
    return f"{service}-{subject.replace('.', '-')}"


RouteFactory = Callable[[Deps], list[Route]]


@dataclass
class Consumer:
    """What a service's subscribers hand each delivery to.

    The app fills it in at startup, once the dependencies exist (nothing connects at import
    time); a handler test builds it with its routes and an in-memory step store.
    """

    settings: Settings
    steps: StepStore | None = None
    routes: dict[str, Route] = field(default_factory=dict)
    budget: Callable[[str], Any] | None = None  # project id → the guard each model call checks first

    def route(self, subject: str) -> Route:
        return self.routes[subject]


def service_broker(servers: str | list[str] = "nats://localhost:4222", name: str | None = None, *,
                   traced: bool = True) -> NatsBroker:
    """The broker of a service: its handlers take the delivered message itself (`delivered_message`).

    No FastDepends per message (`apply_types=False`): resolving a `NatsMessage` parameter through it
    costs a worker-thread hand-off and a task group for every delivery, for a handler that wants
    nothing but the message. FastStream's own per-message log lines go out at DEBUG: the step's log
    line is the record of a delivery, with its ids.

    `traced=False` leaves out FastStream's consume spans, for a batch subscriber: FastStream opens
    a new trace for every fetched batch (a root span linking the messages), one per second of
    traffic that no operator follows; such a service opens its own span per message instead, in
    the trace the message carries."""
    return NatsBroker(servers, name=name, middlewares=broker_middlewares() if traced else [], apply_types=False,
                      log_level=logging.DEBUG)


async def delivered_message(msg: NatsMessage) -> NatsMessage:
    """Decoder of a service's subscribers: the handler gets the message as delivered; validating its
    body (and dead-lettering what fails) is the handler's own work."""
    return msg


def register(broker: NatsBroker, service: str, consumer: Consumer, nodes: dict[str, str]) -> None:
    """Subscribe `service` to its subjects (`nodes`: subject → node) on `broker`, one durable pull
    consumer each, every delivery handed to `consumer` (`handle_delivery`)."""
    stream = JStream(consumer.settings.stream_name, subjects=["amp.>"], declare=False)
    for subject, node in nodes.items():
        _subscribe(broker, stream, service, consumer, Route(subject, node))


def pipeline_nodes(service: str) -> dict[str, str]:
    """subject → node of the steps the pipeline table gives `service`."""
    return {s.subject: s.node for s in steps_of(service)}


def agent_app(service: str, settings: Settings, make_routes: RouteFactory,
              background: Callable[[Deps], Awaitable[None]] | None = None,
              subscriptions: dict[str, str] | None = None) -> FastStream:
    """The FastStream app of one agent.

    It subscribes to the subjects the pipeline table gives the service (or `subscriptions`,
    subject → node, for a consumer outside the pipeline), known before start for the AsyncAPI
    document; `make_routes(deps)` builds the handlers once the dependencies exist, in the app's
    startup hook, so nothing connects at import time.
    """
    nodes = subscriptions if subscriptions is not None else pipeline_nodes(service)
    broker = service_broker(settings.nats_servers, f"amp-{service}")
    consumer = Consumer(settings)
    register(broker, service, consumer, nodes)
    state: dict[str, Any] = {}
    app = FastStream(broker)

    @app.on_startup
    async def _start() -> None:
        state["cm"] = open_deps(settings, service)
        deps = await state["cm"].__aenter__()
        state["deps"] = deps
        consumer.steps = PostgresStepStore(deps.pool, deps.js, deps.sent_marks)
        consumer.budget = partial(budget_guard, deps.pool)
        consumer.routes = {r.subject: r for r in make_routes(deps)}

    @app.after_startup
    async def _background() -> None:
        deps = state["deps"]
        state["tasks"] = [housekeeping_task(outbox.relay(deps.pool, deps.js)),  # every process relays
                          housekeeping_task(refresh_gauges(deps, [durable_name(service, s) for s in nodes]))]
        if background is not None:
            state["tasks"].append(housekeeping_task(background(deps)))

    @app.on_shutdown
    async def _cancel() -> None:
        state["deadline"] = exit_by_deadline(SHUTDOWN_GRACE_S)
        for task in state.get("tasks", []):
            task.cancel()

    @app.after_shutdown
    async def _stop() -> None:
        if "cm" in state:
            await state["cm"].__aexit__(None, None, None)
        # Shut down in time: the deadline is for a shutdown that hangs, not for the process that
        # hosts the app (a test, or `amp up`) to be ended after a clean stop.
        if state.get("deadline") is not None:
            state.pop("deadline").cancel()

    return app


async def refresh_gauges(deps: Deps, durables: list[str], interval_s: float = 15.0) -> None:
    """Keep this service's consumer gauges (lag, unacked, redelivered) current for `/metrics`."""
    while True:
        try:
            await metrics.refresh_bus_gauges(deps.js, deps.settings.stream_name, durables)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a bus hiccup: the next round reads again
            log.warning("could not read the consumer state for the metrics", exc_info=True)
        await asyncio.sleep(interval_s)


#: From SIGTERM to exit, at most: in-flight steps get this long to finish (an unfinished one is
#: redelivered: its key makes that harmless). Below Kubernetes' default grace period of 30 s.
SHUTDOWN_GRACE_S = 10.0


def exit_by_deadline(grace_s: float) -> threading.Timer:
    """Make sure the process ends within `grace_s`, whatever its bus and database are doing (a
    drain towards a NATS that has gone can otherwise wait for ever). Cancel the timer once the
    shutdown has finished."""
    timer = threading.Timer(grace_s, os._exit, (143,))
    timer.daemon = True
    timer.start()
    return timer


def _subscribe(broker: NatsBroker, stream: JStream, service: str, consumer: Consumer, route: Route) -> None:
    settings = consumer.settings

    @broker.subscriber(
        route.subject, stream=stream, durable=durable_name(service, route.subject),
        pull_sub=PullSub(batch_size=1, timeout=5.0), ack_policy=AckPolicy.MANUAL,
        **({"max_workers": settings.max_workers} if settings.max_workers > 1 else {}),
        config=ConsumerConfig(ack_wait=settings.ack_wait_s, max_deliver=settings.max_deliver),
        title=f"{service}:{route.node}", description=f"{service} runs {route.node} on {route.subject}",
        decoder=delivered_message)
    async def on_message(msg: NatsMessage) -> None:
        await handle_delivery(consumer, service, consumer.route(route.subject), msg)


async def handle_delivery(consumer: Consumer, service: str, route: Route, msg: NatsMessage) -> StepRecord | None:
    raw = msg.raw_message
    data: bytes = raw.data
    delivered = _delivery_count(raw)
    consume = trace.get_current_span()  # FastStream's consume span, when spans are exported
    consume.set_attribute("amp.delivery", delivered)
    consume.set_attribute("amp.retry", delivered > 1)  # a redelivery: another attempt in the same trace
    beat = asyncio.create_task(_heartbeat(msg, consumer.settings.ack_wait_s))
    started = time.perf_counter()
    try:
        outcome, record = await _deliver(consumer, service, route, msg, data, delivered)
    finally:
        beat.cancel()
    metrics.STEP_SECONDS.labels(service, route.node).observe(time.perf_counter() - started)
    metrics.STEPS.labels(service, route.node, outcome).inc()
    return record


def _delivery_count(raw: Any) -> int:
    """Which delivery of the message this is (JetStream counts them; a plain NATS message is a first)."""
    try:
        return raw.metadata.num_delivered if raw.metadata else 1
    except NotJSMessageError:
        return 1


async def _heartbeat(msg: NatsMessage, ack_wait_s: float) -> None:
    """Tell JetStream the message is still being worked on, so a long step (a validator run, a model
    call) is not delivered again to another replica while it runs."""
    while True:
        await asyncio.sleep(max(0.5, ack_wait_s / 3))
        try:
            await msg.in_progress()
        except Exception as e:  # noqa: BLE001 - a lost connection: the redelivery, if any, is absorbed by the key
            log.debug("in_progress failed: %s", e)


async def _deliver(consumer: Consumer, service: str, route: Route, msg: NatsMessage, data: bytes,
                   delivered: int) -> tuple[str, StepRecord | None]:
    """One delivery; returns its outcome (for the step metrics) and the step's record."""
    steps, settings = consumer.steps, consumer.settings
    assert steps is not None, "the consumer's step store is set at startup"
    try:
        env = (route.envelope or envelope_type(route.subject)).model_validate_json(data)
    except ValidationError as e:
        await dead_letter(steps, service, route, data, f"message failed validation: {_short(e)}", "validation_failed")
        await msg.ack()
        return "dead_lettered", None
    try:
        handler = route.handler
        assert handler is not None
        budget = consumer.budget(env.project_id) if consumer.budget is not None else None
        with call_context(new_call(env.project_id, env.decision_set_id, budget)) as call:
            record = await run_step(steps, service, route.node, env, lambda key: handler(env, key))
    except BudgetExceeded as e:  # not a failure: the run waits until the budget is raised
        await pause_for_budget(steps, service, route, env, data, e)
        await msg.ack()
        return "paused", None
    except Exception as e:  # noqa: BLE001 - every failure is either retried or dead-lettered, never lost
        kind = classify(e)
        final = kind is Failure.PERMANENT or delivered >= settings.max_deliver
        log.warning("step %s/%s failed (delivery %s, %s%s): %s", service, route.node, delivered, kind,
                    ", final" if final else "", e, exc_info=kind is not Failure.TRANSIENT)
        if not final:
            metrics.RETRIES.labels(service, route.node).inc()
            await msg.nack(delay=redelivery_delay(delivered, settings.retry_base_s, settings.retry_max_s))
            return "retried", None
        if await _committed(steps, step_key(env, service, route.node)):
            log.warning("step %s/%s had committed before it failed: its outbox carries it on", service, route.node)
            await msg.ack()
            return "replayed", None
        code = e.code if isinstance(e, AmpError) else ("unavailable" if kind is Failure.TRANSIENT else "internal")
        await dead_letter(steps, service, route, data, f"{route.node} failed: {e}", code,
                          permanent=kind is Failure.PERMANENT)
        await msg.ack()
        return "dead_lettered", None
    await msg.ack()
    if record.replayed:  # counted when it first ran
        return "replayed", record
    metrics.observe_usage(service, call.accounting.records if call.accounting is not None else [])
    metrics.observe_events(record.events)
    await _observe_artifact(steps, record)
    return "ok", record


async def _observe_artifact(steps: StepStore, record: StepRecord) -> None:
    """Time to artifact: from the version's creation to the event that says its repository is there."""
    for ev in record.events:
        if ev.type == "run-complete" and (ev.data or {}).get("status") == "completed":
            try:
                row = await steps.find_decision_set(ev.decision_set_id)
            except Exception:  # noqa: BLE001 - a metric is not worth failing a recorded step for
                return
            if row is not None and row.get("created_at") is not None:
                metrics.TIME_TO_ARTIFACT.observe(max(0.0, (ev.ts - row["created_at"]).total_seconds()))


async def _committed(steps: StepStore, key: str) -> bool:
    try:
        return await steps.get_run(key) is not None
    except Exception:  # noqa: BLE001 - unknown: the dead letter's own lifecycle check keeps a finished set final
        return False


async def pause_for_budget(steps: StepStore, service: str, route: Route, env: Envelope, data: bytes,
                           error: BudgetExceeded) -> None:
    """Park the step's message on the decision set and say so on its stream.

    `POST /decision-sets/{id}/resume` (after the budget is raised) publishes it again; the step's
    idempotency key is unchanged, and nothing of it was recorded, so it simply runs.
    """
    metrics.BUDGET_PAUSES.labels(service).inc()
    gate = GateWaiting(decision_set_id=env.decision_set_id, gate="budget", message=error.message)
    card = ReasonCard(decision_id=str(uuid.uuid5(uuid.UUID(env.decision_set_id), f"budget:{_digest(data)}")),
                      agent=service, node_name=route.node, summary=f"Paused before {route.node}: {error.message}",
                      risks=[error.message], confidence=1.0, details={"budget": error.details or []},
                      user_id=env.user_id)
    needed = float(((error.details or [{}])[0]).get("estimate_usd") or 0.0)
    parked = {**gate.model_dump(mode="json"), "subject": route.subject, "body": data.decode(), "estimate_usd": needed}
    key = f"budget:{uuid.uuid4()}"  # each pause is news, even of the same message
    async with steps.transaction() as tx:
        row = await tx.update_decision_set(env.decision_set_id, {"status": "paused_budget", "stage": route.node,
                                                                 "gate": parked}, node=route.node, run_id=env.run_id)
        events = _transition(row) + await tx.insert_events([
            Event(type="reason-card", project_id=env.project_id, decision_set_id=env.decision_set_id,
                  run_id=env.run_id, node_name=route.node, data=card.model_dump(mode="json"), user_id=env.user_id),
            Event(type="gate-waiting", project_id=env.project_id, decision_set_id=env.decision_set_id,
                  run_id=env.run_id, node_name=route.node, data=gate.model_dump(mode="json")),
        ], key, None)
        outgoing = await queue_events(tx, events, key)
    await steps.send(outgoing)


#: How long a dead letter keeps trying to record itself (a database outage) before it gives up.
DEAD_LETTER_PATIENCE_S = 90.0


async def dead_letter(steps: StepStore, service: str, route: Route, data: bytes, reason: str, code: str, *,
                      permanent: bool = True) -> None:
    """Keep the message (table `dead_letters`, `amp dlq`) and tell the decision set's stream why.

    A permanent failure ends the decision set (`failed`, with a run-error and run-complete). A
    step that kept failing on a passing fault (an outage longer than the redeliveries) stops it
    as `stalled` instead, its message parked on the decision set: `amp resume` (or `amp dlq replay`)
    runs it again. A decision set that has already ended keeps its status: the lifecycle refuses
    the change, and nothing else is written for it but the dead-letter row. The whole record is one
    transaction, retried through a database outage, its messages in the outbox.
    """
    metrics.DEAD_LETTERS.labels(service, code).inc()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEAD_LETTER_PATIENCE_S
    attempt = 0
    while True:
        try:
            outgoing = await _record_dead_letter(steps, service, route, data, reason, code, permanent)
            break
        except Exception as e:  # noqa: BLE001 - the record must land before the message is acked
            attempt += 1
            if loop.time() >= deadline:
                log.error("could not record the dead letter of %s from %s (%s); the stall sweeper will notice its "
                          "decision set", reason, route.subject, e)
                outgoing = []
                break
            await asyncio.sleep(min(10.0, 0.5 * 2 ** attempt))
    try:  # a copy on the bus for subscribers and triage; the table is the record
        await steps.publish(Subjects.dead_letter(service), data, f"dlq:{service}:{route.subject}:{_digest(data)}",
                            headers={"Amp-Reason": reason[:500], "Amp-Subject": route.subject, "Amp-Code": code})
    except Exception as e:  # noqa: BLE001
        log.warning("dead-letter copy on the bus failed: %s", e)
    await steps.send(outgoing)


async def _record_dead_letter(steps: StepStore, service: str, route: Route, data: bytes, reason: str, code: str,
                              permanent: bool) -> list[outbox.Outgoing]:
    ids = _lenient_ids(data)
    digest = _digest(data)
    async with steps.transaction(timeout=10) as tx:
        dl_id = await tx.add_dead_letter(service, route.subject, route.node, code, reason[:2000], data, digest,
                                         ids[0] if ids else None, ids[1] if ids else None)
        if ids is None:
            log.error("dead-lettered an unattributable message from %s: %s", route.subject, reason)
            return []
        project_id, ds_id, run_id = ids
        if await tx.find_decision_set(ds_id) is None:
            return []
        subject = Subjects.dead_letter(service)
        if permanent:
            summary = (f"The {service} agent could not complete {route.node}: {reason[:500]}. The run stops here; the "
                       f"message is kept as dead letter {dl_id} ({subject}) for triage.")
        else:
            summary = (f"The {service} agent kept failing on {route.node}: {reason[:500]}. The run is stopped, not "
                       f"ended: `amp resume {ds_id}` (POST /decision-sets/{ds_id}/resume) runs the step again.")
        card = ReasonCard(decision_id=str(uuid.uuid5(uuid.UUID(ds_id), f"dlq:{digest}")), agent=service,
                          node_name=route.node, summary=summary, risks=[f"{code}: {reason[:300]}"], confidence=0.0,
                          details={"code": code, "dead_letter_subject": subject, "dead_letter_id": dl_id})
        err = RunError(decision_set_id=ds_id, node_name=route.node, message=reason[:1000], code=code)
        if permanent:
            fields: dict[str, Any] = {"status": "failed", "stage": route.node}
        else:
            gate = GateWaiting(decision_set_id=ds_id, gate="error", message=summary)
            fields = {"status": "stalled", "stage": route.node,
                      "gate": {**gate.model_dump(mode="json"), "subject": route.subject, "body": data.decode(),
                               "dead_letter_id": dl_id}}
        try:
            row = await tx.update_decision_set(ds_id, fields, node=route.node, run_id=run_id)
        except IllegalTransition:  # the decision set already ended: a late or forged message cannot reopen it
            log.warning("dead-lettered a message for decision set %s, which has already ended; its status stays",
                        ds_id)
            return []
        key = f"dlq:{digest}:{row['lock_version']}"
        new = [Event(type="reason-card", project_id=project_id, decision_set_id=ds_id, run_id=run_id,
                     node_name=route.node, data=card.model_dump(mode="json")),
               Event(type="run-error", project_id=project_id, decision_set_id=ds_id, run_id=run_id,
                     node_name=route.node, data=err.model_dump(mode="json"))]
        if permanent:
            new.append(Event(type="run-complete", project_id=project_id, decision_set_id=ds_id, run_id=run_id,
                             node_name=route.node, data=RunComplete(decision_set_id=ds_id, version=row["version"],
                                                                    status="failed").model_dump(mode="json")))
        else:
            new.append(Event(type="gate-waiting", project_id=project_id, decision_set_id=ds_id, run_id=run_id,
                             node_name=route.node, data=fields["gate"]))
        events = _transition(row) + await tx.insert_events(new, key, None)
        outgoing = await queue_events(tx, events, key)
        if permanent:
            ended = envelope_of(RunCompleted)(project_id=project_id, decision_set_id=ds_id, run_id=run_id,
                                              payload=RunCompleted(version=row["version"], status="failed"))
            outgoing.append(await tx.enqueue(project_id, Subjects.RUN_COMPLETED, f"run-failed:{ds_id}",
                                             ended.model_dump_json().encode(), ds_id))
        return outgoing


def _transition(row: dict[str, Any]) -> list[Event]:
    return [row["transition"]] if row.get("transition") is not None else []


def _lenient_ids(data: bytes) -> tuple[str, str, str] | None:
    try:
        obj = json.loads(data)
        ids = str(obj["project_id"]), str(obj["decision_set_id"]), str(obj.get("run_id") or "")
        uuid.UUID(ids[0]), uuid.UUID(ids[1])
        return ids
    except Exception:  # noqa: BLE001 - unattributable input
        return None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _short(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()[:5])
