"""An in-memory `StepStore` (amp_runtime.step_store) for handler tests on FastStream's test broker.

The step protocol, the dead letters and the budget pauses run unchanged on top of it; only the
row operations are doubled, with the semantics the protocol relies on in Postgres:

- a step key is recorded once: `record_run` answers None for a recorded key, so a redelivered
  message re-publishes the recorded output instead of running its graph again;
- a transaction is all or nothing (a failure inside restores the state it began with), and
  transactions run one at a time, as the row locks order them;
- a status change goes through the lifecycle (`IllegalTransition`), honours `expect_status`
  (`ConflictError`) and records its `status-change` event;
- events are numbered per decision set, and the same step's events again return the recorded ones;
- the same message dead-lettered again is one row.

Decision sets live in the handlers' `MemoryReader`, so what a step writes is what the next
handler reads. Messages go out on a FastStream broker (the test broker). Unlike JetStream, the
test broker does not drop a repeated message id: every publish is kept in `published`, in order.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from amp_contracts import ConflictError, Event, IllegalTransition, NotFound, ProviderInfo, lifecycle
from amp_runtime.outbox import Outgoing
from amp_runtime.store import DS_COLUMNS, status_change_event
from faststream.nats import NatsBroker

from tests.fakes.memory_reader import MemoryReader

_TABLES = ("runs", "events", "event_keys", "dead_letters", "costs", "usage", "outbox")
_ROW_KEYS = ("id", "project_id", "version", "parent_id", "status", "stage", "lock_version")


@dataclass
class Published:
    subject: str
    body: bytes
    msg_id: str
    headers: dict[str, str]


@dataclass
class MemoryStepStore:
    reader: MemoryReader
    broker: NatsBroker | None = None  # where messages go out; None keeps them in `published` only
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    event_keys: dict[tuple[str, str, str, str, int], Event] = field(default_factory=dict)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    costs: dict[str, dict] = field(default_factory=dict)
    usage: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    published: list[Published] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # --- StepStore ---------------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self, timeout: float | None = None) -> AsyncIterator[MemoryTx]:
        async with self._lock:
            saved = self._snapshot()
            try:
                yield MemoryTx(self)
            except BaseException:
                self._restore(saved)
                raise

    async def get_run(self, key: str) -> dict[str, Any] | None:
        """As Postgres's: the record's events read back by the step's key, in the step's order."""
        run = copy.deepcopy(self.runs.get(key))
        if run is not None and "events" not in run["output"]:
            mine = sorted(((i, ev) for (k, _ds, _node, _type, i), ev in self.event_keys.items() if k == key),
                          key=lambda item: item[0])
            run["output"]["events"] = [ev.model_dump(mode="json") for _, ev in mine]
        return run

    async def find_decision_set(self, ds_id: str) -> dict[str, Any] | None:
        return self.reader.decision_sets.get(ds_id)

    async def publish(self, subject: str, body: bytes, msg_id: str, headers: dict[str, str] | None = None) -> bool:
        self.published.append(Published(subject, body, msg_id, dict(headers or {})))
        if self.broker is not None:
            await self.broker.publish(body, subject, headers={"Nats-Msg-Id": msg_id, **(headers or {})})
        return True

    async def send(self, items: list[Outgoing]) -> bool:
        for item in items:
            await self.publish(item.subject, item.body, item.msg_id)
            next(row for row in self.outbox if row["id"] == item.outbox_id)["sent"] = True
        return True

    # --- what tests read -------------------------------------------------------------------------

    def events_of(self, ds_id: str) -> list[Event]:
        return [e for e in self.events if e.decision_set_id == ds_id]

    def published_on(self, subject: str) -> list[Published]:
        return [p for p in self.published if p.subject == subject]

    # --- all or nothing ------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {"decision_sets": self.reader.decision_sets, "cards": self.reader.cards,
                **{name: getattr(self, name) for name in _TABLES}}

    def _snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self._state())

    def _restore(self, saved: dict[str, Any]) -> None:
        for name, live in self._state().items():  # in place: the handlers hold the reader's dictionaries
            if isinstance(live, dict):
                live.clear()
                live.update(saved[name])
            else:
                live[:] = saved[name]


class MemoryTx:
    def __init__(self, store: MemoryStepStore) -> None:
        self.s = store

    async def find_decision_set(self, ds_id: str) -> dict[str, Any] | None:
        return self.s.reader.decision_sets.get(ds_id)

    async def create_decision_set(self, project_id: str, *, requirements: str = "",
                                  input_constraints: dict | None = None, parent_id: str | None = None,
                                  status: str = "intake", stage: str = "intake", ds_id: str | None = None,
                                  **columns: Any) -> dict[str, Any]:
        if project_id not in self.s.reader.projects:
            raise NotFound(f"project {project_id} not found")
        new = self.s.reader.add_decision_set(project_id, parent_id=parent_id, requirements=requirements,
                                             input_constraints=input_constraints or {}, status=status, stage=stage,
                                             **columns)
        if ds_id is not None:
            row = self.s.reader.decision_sets.pop(new)
            row["id"] = ds_id
            self.s.reader.decision_sets[ds_id] = row
            new = ds_id
        return self.s.reader.decision_sets[new]

    async def update_decision_set(self, ds_id: str, fields: dict[str, Any], *,
                                  expect_status: Iterable[str] | None = None, node: str = "",
                                  run_id: str | None = None, user_id: str | None = None,
                                  record_transition: bool = True) -> dict[str, Any]:
        bad = set(fields) - DS_COLUMNS
        if bad:
            raise ValueError(f"unknown decision-set columns {sorted(bad)}")
        row = self.s.reader.decision_sets.get(ds_id)
        if row is None:
            raise NotFound(f"decision set {ds_id} not found")
        previous = row["status"]
        if "status" in fields and not lifecycle.allowed(previous, fields["status"]):
            raise IllegalTransition(f"decision set {ds_id} is {previous}: it cannot become {fields['status']}")
        wanted = set(expect_status) if expect_status is not None else None
        if wanted is not None and previous not in wanted:
            raise ConflictError(f"decision set {ds_id} is {previous}, not {' or '.join(sorted(wanted))}")
        row.update(copy.deepcopy(fields))
        row["lock_version"] = row.get("lock_version", 0) + 1
        out: dict[str, Any] = {k: row.get(k) for k in _ROW_KEYS} | {"previous_status": previous, "transition": None}
        if "status" in fields and previous != row["status"]:
            ev, key = status_change_event(out, node, run_id, user_id)
            out["transition"] = (await self.insert_events([ev], key, None))[0] if record_transition else ev
        return out

    async def insert_events(self, events: list[Event], step_key: str, checkpoint_id: str | None) -> list[Event]:
        out = []
        for i, ev in enumerate(events):
            row = self.s.reader.decision_sets.get(ev.decision_set_id)
            if row is None:
                raise NotFound(f"decision set {ev.decision_set_id} not found")
            key = (step_key, ev.decision_set_id, ev.node_name, ev.type, i)
            recorded = self.s.event_keys.get(key)
            if recorded is None:
                row["event_count"] = row.get("event_count", 0) + 1
                recorded = ev.model_copy(update={"id": next(self.s._ids), "number": row["event_count"]})
                self.s.event_keys[key] = recorded
                self.s.events.append(recorded)
                if ev.type == "reason-card":
                    self.s.reader.cards.setdefault(ev.decision_set_id, []).append(ev.data)
            out.append(recorded.model_copy())
        return out

    async def record_run(self, key: str, project_id: str, ds_id: str, service: str, node: str, output: dict,
                         duration_ms: float, rows: list[tuple[str, str, bytes, str | None]]) -> list[Outgoing] | None:
        if key in self.s.runs:
            return None
        self.s.runs[key] = {"idem_key": key, "project_id": project_id, "decision_set_id": ds_id, "service": service,
                            "node": node, "output": copy.deepcopy(output), "ok": True}
        return await self.enqueue_many(project_id, rows)

    async def upsert_cost(self, project_id: str, ds_id: str, estimate: dict) -> None:
        self.s.costs[ds_id] = estimate

    async def record_usage(self, project_id: str, ds_id: str | None, node: str, info: ProviderInfo,
                           usd: float) -> None:
        self.s.usage.append({"project_id": project_id, "decision_set_id": ds_id, "node": node, "info": info,
                             "usd": usd})

    async def add_dead_letter(self, service: str, subject: str, node: str, code: str, reason: str, body: bytes,
                              digest: str, project_id: str | None, ds_id: str | None) -> int:
        same = next((d for d in self.s.dead_letters
                     if (d["service"], d["subject"], d["digest"]) == (service, subject, digest)), None)
        if same is not None:
            same.update(code=code, reason=reason)
            return same["id"]
        self.s.dead_letters.append({"id": next(self.s._ids), "service": service, "subject": subject, "node": node,
                                    "code": code, "reason": reason, "body": body, "digest": digest,
                                    "project_id": project_id, "decision_set_id": ds_id})
        return self.s.dead_letters[-1]["id"]

    async def enqueue(self, project_id: str, subject: str, msg_id: str, body: bytes,
                      ds_id: str | None = None) -> Outgoing:
        oid = next(self.s._ids)
        self.s.outbox.append({"id": oid, "project_id": project_id, "subject": subject, "msg_id": msg_id, "body": body,
                              "decision_set_id": ds_id, "sent": False})
        return Outgoing(oid, subject, msg_id, body)

    async def enqueue_many(self, project_id: str, rows: list[tuple[str, str, bytes, str | None]]) -> list[Outgoing]:
        return [await self.enqueue(project_id, subject, msg_id, body, ds_id) for subject, msg_id, body, ds_id in rows]
