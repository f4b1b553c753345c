"""Each agent service's subscribers, on FastStream's test broker, against an in-memory step store.

The cases come from the pipeline table: for every row, an envelope goes out on the row's subject
through `TestNatsBroker`, the service's real subscriber (`amp_runtime.agent.register`) hands it to
the step protocol, and what comes back over the broker must be what the row says: messages only
on the row's next subjects, or a gate that waits for the row's `waits_for`, and the step's events
on the decision set's event subject. A second delivery of the same message runs no graph and
re-publishes what was recorded; a body that fails validation goes to the dead-letter path.
Adding a row adds a case (and, for a subject a person publishes, one line in `PERSON`).

Each input is reached the way the platform reaches it: the pipeline runs on a test broker from
a request, with every service subscribed except the case's own step, and the message it stops
at (or the gate a person answers) is the case's input. Delivery guarantees themselves (JetStream
de-duplication, redelivery, durable consumers) need the real server: tests/integration.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from amp_contracts import (
    PIPELINE,
    ConstraintSchema,
    Envelope,
    EventBatch,
    GateDecided,
    GateExpire,
    IntakeAnswered,
    IntakeRequested,
    PlanProposed,
    Step,
    Subjects,
    envelope_type,
)
from amp_runtime.agent import Consumer, Route, bind, delivered_message, register, service_broker
from amp_runtime.artifacts import LocalArtifactStore
from amp_runtime.graphs import serializer
from amp_runtime.settings import Settings
from amp_runtime.step_store import PostgresStepStore, PostgresTx, StepStore, StepTx
from faststream.nats import NatsBroker, NatsMessage, TestNatsBroker
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel

from services.codegen import app as codegen_app
from services.codegen.decisions import Codegen
from services.codegen.graph import build_graph as codegen_graph
from services.critics import app as critics_app
from services.critics.graph import build_graph as critics_graph
from services.intake import app as intake_app
from services.intake.graph import build_graph as intake_graph
from services.planner import app as planner_app
from services.planner.graph import build_graph as planner_graph
from services.planner.planning import compose_plan
from services.policy import app as policy_app
from services.policy.graph import build_graph as policy_graph
from tests.fakes.memory_reader import MemoryReader
from tests.fakes.memory_steps import MemoryStepStore, MemoryTx

FRAUD = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
         "99.9% availability, budget $6,000 per month. Internal transaction data, GDPR. Containers. Retrain weekly.")
VAGUE = "I need an ML model for churn"
FP = "packs-test"

#: The services whose handlers run here, and how to build each one's handlers' dependencies.
SERVICES: dict[str, tuple[Any, Callable[[MemoryReader, Any], Any]]] = {
    "intake": (intake_app, lambda reader, tmp: intake_app.Intake(graph=intake_graph(_saver()), packs_fingerprint=FP)),
    "planner": (planner_app, lambda reader, tmp: planner_app.Planner(graph=planner_graph(_saver()),
                                                                     packs_fingerprint=FP)),
    "critics": (critics_app, lambda reader, tmp: critics_app.Critics(graph=critics_graph(_saver()), db=reader,
                                                                     packs_fingerprint=FP)),
    "policy": (policy_app, lambda reader, tmp: policy_app.Policy(graph=policy_graph(_saver()), db=reader,
                                                                 packs_fingerprint=FP)),
    "codegen": (codegen_app, lambda reader, tmp: Codegen(graph=codegen_graph(_saver()), db=reader,
                                                         artifacts=LocalArtifactStore(tmp), settings=SETTINGS,
                                                         packs_fingerprint=FP)),
}
#: Services of the table whose steps are tested elsewhere, and why.
ELSEWHERE = {"validators": "its step runs the validation tools (slow): tests/integration and tests/e2e run it"}
SETTINGS = Settings(gate_ttl_s=3600)


def _saver() -> InMemorySaver:
    return InMemorySaver(serde=serializer())


@dataclass
class Sent:
    subject: str
    body: bytes
    msg_id: str


@dataclass
class World:
    reader: MemoryReader
    steps: MemoryStepStore
    consumers: dict[str, Consumer]
    project_id: str
    decision_set_id: str
    graph_runs: Counter = field(default_factory=Counter)  # subject → handler runs (each runs its service's graph)

    def envelope(self, payload: BaseModel) -> Envelope:
        return Envelope[type(payload)](project_id=self.project_id, decision_set_id=self.decision_set_id,
                                       run_id=str(uuid.uuid5(uuid.UUID(self.decision_set_id), "run")), payload=payload)

    def events(self) -> list[dict]:
        return [e.model_dump(mode="json") for e in self.steps.events_of(self.decision_set_id)]

    def gate(self) -> dict:
        return next(e["data"] for e in reversed(self.events()) if e["type"] == "gate-waiting")

    async def set_status(self, status: str, expect: str) -> None:
        """What the gateway (or the gate sweeper) does before it publishes a person's answer or decision."""
        async with self.steps.transaction() as tx:
            await tx.update_decision_set(self.decision_set_id, {"status": status}, expect_status={expect})


def counted(route: Route, runs: Counter) -> Route:
    handler = route.handler
    assert handler is not None

    async def run(env: Envelope, key: str) -> Any:
        runs[route.subject] += 1
        return await handler(env, key)

    return Route(route.subject, route.node, run)


def make_world(tmp_path, requirements: str = FRAUD) -> World:
    reader = MemoryReader()
    pid = reader.add_project()
    ds = reader.add_decision_set(pid, requirements=requirements)
    steps = MemoryStepStore(reader)
    world = World(reader, steps, {}, pid, ds)
    for name, (module, build) in SERVICES.items():
        routes = [counted(r, world.graph_runs) for r in bind(module.HANDLERS, build(reader, tmp_path))]
        world.consumers[name] = Consumer(SETTINGS, steps=steps, routes={r.subject: r for r in routes})
    return world


def wire(broker: NatsBroker, world: World, *, only: Step | None = None, skip: str | None = None) -> list[Sent]:
    """Subscribe the services to their rows' subjects (one row, or all but `skip`), and record every
    message that goes over the broker."""
    for step in PIPELINE:
        if step.service in SERVICES and (only is None or step == only) and step.subject != skip:
            register(broker, step.service, world.consumers[step.service], {step.subject: step.node})
    sent: list[Sent] = []

    @broker.subscriber("amp.>", decoder=delivered_message)
    async def record(msg: NatsMessage) -> None:
        sent.append(Sent(msg.raw_message.subject, msg.body, msg.headers.get("Nats-Msg-Id", "")))

    return sent


async def run_pipeline(world: World, first: tuple[str, BaseModel], *, skip: str | None = None,
                       then: Callable[[World], Awaitable[tuple[str, BaseModel] | None]] | None = None) -> list[Sent]:
    """The pipeline on a test broker, every service subscribed but to `skip`, from a first message."""
    broker = service_broker()
    sent = wire(broker, world, skip=skip)
    world.steps.broker = broker
    try:
        async with TestNatsBroker(broker) as br:
            await br.publish(world.envelope(first[1]).model_dump_json().encode(), first[0])
            nxt = await then(world) if then is not None else None
            if nxt is not None:
                await br.publish(world.envelope(nxt[1]).model_dump_json().encode(), nxt[0])
    finally:
        world.steps.broker = None
    return sent


async def answer(world: World) -> tuple[str, BaseModel]:
    gate = world.gate()
    asked = {q["field"] for q in gate["questions"]}
    answers = {"cloud": "gcp", "regions": ["europe-west4"], "data_classification": "pii", "budget_monthly_usd": 900,
               "workload_types": ["batch"]}
    await world.set_status("answering", "waiting_intake")
    return Subjects.INTAKE_ANSWERED, IntakeAnswered(interrupt_id=gate["interrupt_id"],
                                                    answers={k: v for k, v in answers.items() if k in asked} | answers)


async def approve(world: World) -> tuple[str, BaseModel]:
    await world.set_status("deciding", "waiting_approval")
    return Subjects.GATE_DECIDED, GateDecided(interrupt_id=world.gate()["interrupt_id"], status="approved",
                                              by="reviewer")


async def expire(world: World) -> tuple[str, BaseModel]:
    await world.set_status("expiring", "waiting_approval")
    return Subjects.GATE_EXPIRE, GateExpire(interrupt_id=world.gate()["interrupt_id"], kind="expire")


#: Subjects a person (through the gateway) or the gate sweeper publishes: the requirements they
#: start from, and what they do at the gate the pipeline stops at.
PERSON: dict[str, tuple[str, Callable[[World], Awaitable[tuple[str, BaseModel]]] | None]] = {
    Subjects.INTAKE_REQUESTED: (FRAUD, None),
    Subjects.INTAKE_ANSWERED: (VAGUE, answer),
    Subjects.GATE_DECIDED: (FRAUD, approve),
    Subjects.GATE_EXPIRE: (FRAUD, expire),
}


def edited_plan() -> tuple[str, BaseModel]:
    """A plan edited to a serving pattern whose latency floor misses the SLA where another pattern
    meets it: the critic sends it back. (The planner already picks the best pattern, so a request
    alone never makes the rules revise.)"""
    c = ConstraintSchema(cloud="aws", sla_latency_ms=20, throughput_rps=100)
    plan = compose_plan(c)
    comps = [comp.model_copy(update={"pattern_id": "aws:serving_online:lambda"})
             if comp.capability == "serving_online" else comp for comp in plan.components]
    return Subjects.PLAN_PROPOSED, PlanProposed(constraints=c, plan=plan.model_copy(update={"components": comps}))


#: Where the pipeline starts to reach a subject, where a request for FRAUD does not reach it.
STARTS: dict[str, Callable[[], tuple[str, BaseModel]]] = {Subjects.PLAN_REVISE: edited_plan}


async def arrange(step: Step, tmp_path) -> tuple[World, bytes]:
    """A world whose pipeline has just reached `step`, and the message the step is to take."""
    if step.subject in PERSON:
        text, act = PERSON[step.subject]
        world = make_world(tmp_path, text)
        if act is None:
            return world, world.envelope(IntakeRequested(text=text)).model_dump_json().encode()
        await run_pipeline(world, (Subjects.INTAKE_REQUESTED, IntakeRequested(text=text)))
        subject, payload = await act(world)
        assert subject == step.subject
        return world, world.envelope(payload).model_dump_json().encode()
    world = make_world(tmp_path, FRAUD)
    first = STARTS.get(step.subject, lambda: (Subjects.INTAKE_REQUESTED, IntakeRequested(text=FRAUD)))()
    sent = await run_pipeline(world, first, skip=step.subject)
    reached = [s for s in sent if s.subject == step.subject]
    assert reached, f"the pipeline from {first[0]} never publishes on {step.subject}: add a start to STARTS"
    return world, reached[0].body


def cases() -> list[Any]:
    out = []
    for step in PIPELINE:
        if step.service in ELSEWHERE:
            out.append(pytest.param(step, id=step.subject, marks=pytest.mark.skip(reason=ELSEWHERE[step.service])))
        else:
            assert step.service in SERVICES, f"{step.service}: add its handlers to SERVICES (or say why not)"
            out.append(pytest.param(step, id=step.subject))
    return out


async def deliver(world: World, step: Step, body: bytes) -> list[Sent]:
    """One delivery of `body` on the step's subject, to the step's service alone."""
    broker = service_broker()
    sent = wire(broker, world, only=step)
    world.steps.broker = broker
    try:
        async with TestNatsBroker(broker) as br:
            await br.publish(body, step.subject)
    finally:
        world.steps.broker = None
    return [s for s in sent if s.subject != step.subject]


def messages(sent: list[Sent]) -> list[Sent]:
    return [s for s in sent if not s.subject.startswith("amp.events.")]


@pytest.mark.parametrize("step", cases())
async def test_a_step_publishes_what_its_row_says_once(step: Step, tmp_path) -> None:
    world, body = await arrange(step, tmp_path)
    before = len(world.steps.runs)
    sent = await deliver(world, step, body)

    assert world.graph_runs[step.subject] == 1
    assert len(world.steps.runs) == before + 1  # the step is recorded once, under its key
    out = messages(sent)
    if step.publishes:
        assert out, f"{step.node} published nothing"
        assert {s.subject for s in out} <= set(step.publishes), [s.subject for s in out]
    else:  # a gate: nothing goes on until a person (or the sweeper) publishes what it waits for
        assert not out, [s.subject for s in out]
    for s in out:  # each message is its subject's contract
        envelope_type(s.subject).model_validate_json(s.body)

    batches = [s for s in sent if s.subject == Subjects.events(world.decision_set_id)]
    assert len(batches) == 1, [s.subject for s in sent]
    batch = EventBatch.model_validate_json(batches[0].body)
    recorded = await world.steps.get_run(list(world.steps.runs)[-1])
    assert recorded["node"] == step.node and recorded["service"] == step.service
    assert [e.id for e in batch.events] == [e["id"] for e in recorded["output"]["events"]]
    if not step.publishes:
        assert "gate-waiting" in [e.type for e in batch.events]
    assert sent.index(batches[0]) < min((sent.index(s) for s in out), default=len(sent))  # events first

    # delivered again (JetStream redelivers a message whose ack was lost): no graph runs, nothing
    # new is written, and the recorded events and messages go out again under the same ids
    runs, steps_recorded, events = dict(world.graph_runs), dict(world.steps.runs), world.events()
    again = await deliver(world, step, body)
    assert dict(world.graph_runs) == runs
    assert world.steps.runs == steps_recorded and world.events() == events
    assert [(s.subject, s.msg_id, json.loads(s.body)) for s in again] == \
           [(s.subject, s.msg_id, json.loads(s.body)) for s in sent]


CONCURRENT = next(s for s in PIPELINE if s.service in SERVICES and s.publishes and s.subject not in PERSON)


async def test_two_deliveries_at_once_commit_the_step_once(tmp_path) -> None:
    """Two replicas on the same message: both may compute, one records, the other publishes that record."""
    world, body = await arrange(CONCURRENT, tmp_path)
    broker = service_broker()
    sent = wire(broker, world, only=CONCURRENT)
    world.steps.broker = broker
    async with TestNatsBroker(broker) as br:
        await asyncio.gather(br.publish(body, CONCURRENT.subject), br.publish(body, CONCURRENT.subject))
    world.steps.broker = None
    mine = [r for r in world.steps.runs.values() if r["node"] == CONCURRENT.node]
    assert len(mine) == 1
    # the delivery that lost wrote nothing: its transaction was undone, every event is a recorded step's
    recorded = [await world.steps.get_run(key) for key in world.steps.runs]
    assert {e.id for e in world.steps.events} == {e["id"] for r in recorded for e in r["output"]["events"]}
    out = [s for s in messages(sent) if s.subject != CONCURRENT.subject]
    assert len(out) == 2 and out[0].msg_id == out[1].msg_id and json.loads(out[0].body) == json.loads(out[1].body)


@pytest.mark.parametrize("step", cases())
async def test_a_body_that_fails_validation_is_dead_lettered(step: Step, tmp_path) -> None:
    world = make_world(tmp_path)
    poison = json.dumps({"project_id": world.project_id, "decision_set_id": world.decision_set_id, "run_id": "r",
                         "payload": 42}).encode()
    sent = await deliver(world, step, poison)

    assert sum(world.graph_runs.values()) == 0 and world.steps.runs == {}
    copies = [s for s in sent if s.subject == Subjects.dead_letter(step.service)]
    assert [c.body for c in copies] == [poison]
    [letter] = world.steps.dead_letters
    assert (letter["service"], letter["subject"], letter["node"], letter["code"]) == \
           (step.service, step.subject, step.node, "validation_failed")
    assert world.reader.decision_sets[world.decision_set_id]["status"] == "failed"
    assert [e["type"] for e in world.events()] == ["status-change", "reason-card", "run-error", "run-complete"]
    ended = [envelope_type(s.subject).model_validate_json(s.body) for s in sent if s.subject == Subjects.RUN_COMPLETED]
    assert [e.payload.status for e in ended] == ["failed"]

    garbage = await deliver(world, step, b"not json at all")  # unattributable: kept, nothing else written
    assert [s.body for s in garbage if s.subject == Subjects.dead_letter(step.service)] == [b"not json at all"]
    assert len(world.steps.dead_letters) == 2 and len(world.events()) == 4


@pytest.mark.parametrize(("interface", "implementations"), [
    (StepStore, (PostgresStepStore, MemoryStepStore)),
    (StepTx, (PostgresTx, MemoryTx)),
])
def test_the_double_has_the_interface_of_the_real_store(interface: type, implementations: tuple[type, ...]) -> None:
    for name in (n for n in vars(interface) if not n.startswith("_")):
        wanted = list(inspect.signature(getattr(interface, name)).parameters)
        for impl in implementations:
            assert list(inspect.signature(getattr(impl, name)).parameters) == wanted, (impl.__name__, name)
