"""One step, exactly once in effect, on an at-least-once bus (DESIGN: the step protocol).

1. key = sha256(thread_id | node | canonical_json(input))
2. a finished key → re-publish its stored output (a redelivery after a crash)
3. otherwise compute (the service's LangGraph subgraph, checkpointed in Postgres)
4. one transaction: the agent_runs row (the messages, and where the events are), the events,
   the decision-set update (optimistic lock), and the outbox rows of what the step publishes
5. publish events and next messages with Nats-Msg-Id derived from the key; whatever fails to go
   out here (a crash, a bus outage) the outbox relay sends, so nothing committed is ever lost
6. the caller acks

Steps 2, 4 and 5 go through a `StepStore` (Postgres and JetStream; in handler tests, memory).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from amp_contracts import CardDraft, Envelope, Event, EventBatch, ProviderInfo, Subjects
from nats.js import JetStreamContext
from opentelemetry import trace
from pydantic import BaseModel

from . import outbox
from .bus import publish
from .calls import current_call, usage_rows
from .canonical import idempotency_key
from .cards import card_events, event, forward, stamp_cards
from .db import dumps
from .faults import maybe_crash, maybe_delay
from .step_store import PostgresTx, StepStore, StepTx
from .store import StepRecordedConcurrently
from .telemetry import step_span

_log = logging.getLogger("amp.step")


@dataclass
class NewDecisionSet:
    """A next version created in the step's transaction (a re-plan after requested changes)."""

    id: str
    project_id: str
    parent_id: str
    requirements: str
    input_constraints: dict[str, Any]
    columns: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult:
    events: list[Event] = field(default_factory=list)
    messages: list[tuple[str, Envelope]] = field(default_factory=list)
    ds_update: dict[str, Any] = field(default_factory=dict)
    expect_status: set[str] | None = None
    checkpoint_id: str | None = None
    new_decision_set: NewDecisionSet | None = None
    cost: dict | None = None
    usage: list[dict[str, Any]] = field(default_factory=list)


class Outcome:
    """Builds a step's result: its cards and events in order, the messages it sends, its columns.

        out = Outcome(env, key, packs_fingerprint)
        out.cards(drafts).event("cost-update", "critic_cost", cost).send(Subjects.CRITIQUE_COMPLETED, msg)
        return out.update(stage="policy_eval").result(run.checkpoint_id)
    """

    def __init__(self, env: Envelope, key: str, packs_fingerprint: str | None = None) -> None:
        self.env = env
        self.key = key
        self.packs_fingerprint = packs_fingerprint
        self._events: list[Event] = []
        self._messages: list[tuple[str, Envelope]] = []
        self._update: dict[str, Any] = {}

    def cards(self, drafts: Sequence[CardDraft], *, decision_set_id: str | None = None) -> Outcome:
        stamped = stamp_cards(drafts, self.key, self.packs_fingerprint, user_id=self.env.user_id)
        self._events.extend(card_events(self.env, stamped, decision_set_id))
        return self

    def event(self, type_: str, node: str, data: Any, *, decision_set_id: str | None = None) -> Outcome:
        self._events.append(event(self.env, type_, node, data, decision_set_id))
        return self

    def send(self, subject: str, payload: BaseModel, *, decision_set_id: str | None = None,
             run_id: str | None = None) -> Outcome:
        self._messages.append((subject, forward(self.env, payload, decision_set_id=decision_set_id, run_id=run_id,
                                                key=self.key)))
        return self

    def update(self, **columns: Any) -> Outcome:
        """Decision-set columns to set in the step's transaction (`status` goes through the lifecycle)."""
        self._update.update({k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v
                             for k, v in columns.items()})
        return self

    def result(self, checkpoint_id: str | None = None, **extra: Any) -> StepResult:
        return StepResult(events=self._events, messages=self._messages, ds_update=self._update,
                          checkpoint_id=checkpoint_id, **extra)


@dataclass
class StepRecord:
    key: str
    events: list[Event]
    messages: list[tuple[str, dict]]
    replayed: bool
    outgoing: list[outbox.Outgoing] = field(default_factory=list)


def step_key(env: Envelope, service: str, node: str) -> str:
    return idempotency_key(f"{env.decision_set_id}/{service}", node, env.payload)


async def run_step(steps: StepStore, service: str, node: str, env: Envelope,
                   compute: Callable[[str], Awaitable[StepResult]]) -> StepRecord:
    key = step_key(env, service, node)
    with step_span(service, node, env.traceparent, project_id=env.project_id, decision_set_id=env.decision_set_id,
                   run_id=env.run_id, step_key=key, user_id=env.user_id, request_id=env.request_id,
                   thread_id=f"{env.decision_set_id}/{service}"):
        record = await _run(steps, service, node, env, key, compute)
        _log.info("step %s.%s %s (%d events, %d messages)", service, node,
                  "replayed" if record.replayed else "recorded", len(record.events), len(record.messages))
        return record


async def _run(steps: StepStore, service: str, node: str, env: Envelope, key: str,
               compute: Callable[[str], Awaitable[StepResult]]) -> StepRecord:
    done = await steps.get_run(key)
    if done is None:
        started = time.perf_counter()
        result = await compute(key)
        if not result.usage:
            result.usage = usage_rows(current_call())
        await maybe_delay(service)
        maybe_crash(service, "before_commit")
        try:
            record = await _commit(steps, service, node, env, key, result, (time.perf_counter() - started) * 1000)
        except _AlreadyDone:  # another replica finished the same step first: publish what it recorded
            done = await steps.get_run(key)
    if done is not None:
        trace.get_current_span().set_attribute("amp.replayed", True)  # recorded before: re-published, not re-run
        record = StepRecord(key=key, replayed=True,
                            events=[Event.model_validate(e) for e in done["output"]["events"]],
                            messages=[(s, m) for s, m in done["output"]["messages"]])
    if not record.replayed:
        maybe_crash(service, "after_commit")
        await steps.send(record.outgoing)
    else:  # a redelivery after a crash: publish again (the ids de-duplicate); the outbox covers a failure
        try:
            await _publish(steps, record)
        except Exception as e:  # noqa: BLE001 - committed: the outbox relay sends what is still unsent
            _log.warning("re-publishing step %s failed (%s); its outbox rows remain for the relay", key, e)
    maybe_crash(service, "after_publish")
    return record


async def _commit(steps: StepStore, service: str, node: str, env: Envelope, key: str, result: StepResult,
                  duration_ms: float) -> StepRecord:
    messages = [(subject, msg.model_dump(mode="json")) for subject, msg in result.messages]
    async with steps.transaction() as tx:
        if result.new_decision_set is not None:
            nd = result.new_decision_set
            exists = await tx.find_decision_set(nd.id)
            if exists is None:
                await tx.create_decision_set(nd.project_id, requirements=nd.requirements,
                                             input_constraints=nd.input_constraints, parent_id=nd.parent_id,
                                             ds_id=nd.id, **nd.columns)
        transition: list[Event] = []
        if result.ds_update:  # a change of status: its event first among the step's, in one insert
            row = await tx.update_decision_set(env.decision_set_id, result.ds_update,
                                               expect_status=result.expect_status, node=node, run_id=env.run_id,
                                               user_id=env.user_id, record_transition=False)
            transition = [row["transition"]] if row["transition"] is not None else []
        try:
            events = await tx.insert_events(transition + result.events, key, result.checkpoint_id)
        except StepRecordedConcurrently:
            raise _AlreadyDone() from None
        if result.cost is not None:
            await tx.upsert_cost(env.project_id, env.decision_set_id, result.cost)
        for u in result.usage:
            await tx.record_usage(env.project_id, env.decision_set_id, u["node"],
                                  ProviderInfo.model_validate(u["info"]), u["usd"])
        # The events stay in their own table (found again by the step's key); the record names
        # their decision sets and keeps what only it holds, the messages.
        output = {"event_sets": sorted({e.decision_set_id for e in events}), "messages": messages}
        outgoing = await tx.record_run(key, env.project_id, env.decision_set_id, service, node, output, duration_ms, [
            *_event_rows(events, key),
            *((subject, f"{key}:{i}", _json(body), body.get("decision_set_id") or env.decision_set_id)
              for i, (subject, body) in enumerate(messages))])
        if outgoing is None:
            raise _AlreadyDone()
    return StepRecord(key=key, events=events, messages=messages, replayed=False, outgoing=outgoing)


class _AlreadyDone(Exception):
    pass


def _json(body: dict) -> bytes:
    return dumps(body).encode()


async def _publish(steps: StepStore, record: StepRecord) -> None:
    """Events first, then the next messages: the next agent's events always follow ours."""
    await asyncio.gather(*(steps.publish(subject, body, msg_id)
                           for _, subject, msg_id, body in _event_batches(record.events, record.key)))
    for i, (subject, body) in enumerate(record.messages):  # envelopes as JSON objects, fresh or replayed
        await steps.publish(subject, _json(body), f"{record.key}:{i}")  # parent: this replay's span


def _event_batches(events: list[Event], key: str) -> list[tuple[str, str, str, bytes]]:
    """(decision set, subject, message id, body): one `EventBatch` per decision set the step wrote to."""
    by_ds: dict[str, list[Event]] = {}
    for ev in events:
        by_ds.setdefault(ev.decision_set_id, []).append(ev)
    return [(ds, Subjects.events(ds), f"evts:{key}:{ds}", EventBatch(events=evs).model_dump_json().encode())
            for ds, evs in by_ds.items()]


def _event_rows(events: list[Event], key: str) -> list[tuple[str, str, bytes, str | None]]:
    """The event batches as outbox rows: (subject, message id, body, decision set)."""
    return [(subject, msg_id, body, ds) for ds, subject, msg_id, body in _event_batches(events, key)]


async def queue_events(tx: StepTx, events: list[Event], key: str) -> list[outbox.Outgoing]:
    """The event batches of a step store's transaction, as outbox rows of that transaction."""
    if not events:
        return []
    return await tx.enqueue_many(events[0].project_id, _event_rows(events, key))


async def enqueue_events(conn: asyncpg.Connection, events: list[Event], key: str) -> list[outbox.Outgoing]:
    """`queue_events` for a plain Postgres transaction (the sweeper's, the gate expiry's)."""
    return await queue_events(PostgresTx(conn), events, key)


async def publish_events(js: JetStreamContext, events: list[Event], key: str) -> None:
    """One `EventBatch` message per decision set the step wrote events for (usually one)."""
    await asyncio.gather(*(publish(js, subject, body, msg_id) for _, subject, msg_id, body in _event_batches(events, key)))

