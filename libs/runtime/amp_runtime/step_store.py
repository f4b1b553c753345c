"""Where the step protocol keeps what a step did, and how it publishes it: a small interface.

The step protocol (`step.run_step`), the dead letters and the budget pauses (`agent`) write
through a `StepStore`: transactions of a few row operations (a finished step's `agent_runs` row,
its events, the decision-set update through the lifecycle, the outbox rows of what it publishes),
then the publish of what committed. `PostgresStepStore` is the platform's (Postgres and JetStream);
handler tests run the same protocol against an in-memory one (tests/fakes).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import asyncpg
from amp_contracts import Event, ProviderInfo
from nats.js import JetStreamContext

from . import outbox, store
from .bus import publish
from .outbox import Outgoing
from .providers import record_usage


class StepTx(Protocol):
    """One transaction: everything written through it commits together, or nothing does."""

    async def find_decision_set(self, ds_id: str) -> dict[str, Any] | None: ...

    async def create_decision_set(self, project_id: str, *, requirements: str = "",
                                  input_constraints: dict | None = None, parent_id: str | None = None,
                                  status: str = "intake", stage: str = "intake", ds_id: str | None = None,
                                  **columns: Any) -> dict[str, Any]:
        """The next version of a project's decision set."""

    async def update_decision_set(self, ds_id: str, fields: dict[str, Any], *,
                                  expect_status: Iterable[str] | None = None, node: str = "",
                                  run_id: str | None = None, user_id: str | None = None,
                                  record_transition: bool = True) -> dict[str, Any]:
        """Set columns; a new status goes through the lifecycle (`IllegalTransition`), and a change of
        status comes back as `row["transition"]`, a `status-change` event already recorded (with
        `record_transition=False`: not yet recorded, for the caller's own `insert_events`)."""

    async def insert_events(self, events: list[Event], step_key: str, checkpoint_id: str | None) -> list[Event]:
        """Append events, numbered per decision set; the same step's events again return the recorded ones."""

    async def record_run(self, key: str, project_id: str, ds_id: str, service: str, node: str, output: dict,
                         duration_ms: float, rows: list[tuple[str, str, bytes, str | None]]) -> list[Outgoing] | None:
        """Record a finished step under its key with the messages to publish once this transaction
        has committed (`enqueue_many`'s rows); None, and no rows, when the key is recorded already."""

    async def upsert_cost(self, project_id: str, ds_id: str, estimate: dict) -> None: ...

    async def record_usage(self, project_id: str, ds_id: str | None, node: str, info: ProviderInfo,
                           usd: float) -> None: ...

    async def add_dead_letter(self, service: str, subject: str, node: str, code: str, reason: str, body: bytes,
                              digest: str, project_id: str | None, ds_id: str | None) -> int: ...

    async def enqueue(self, project_id: str, subject: str, msg_id: str, body: bytes,
                      ds_id: str | None = None) -> Outgoing:
        """A message to publish once this transaction has committed (an outbox row)."""

    async def enqueue_many(self, project_id: str, rows: list[tuple[str, str, bytes, str | None]]) -> list[Outgoing]:
        """`enqueue` for several (subject, message id, body, decision set) rows, in order."""


class StepStore(Protocol):
    def transaction(self, timeout: float | None = None) -> AbstractAsyncContextManager[StepTx]: ...

    async def get_run(self, key: str) -> dict[str, Any] | None:
        """The recorded step of a key (its `output`: events and messages), or None."""

    async def find_decision_set(self, ds_id: str) -> dict[str, Any] | None: ...

    async def publish(self, subject: str, body: bytes, msg_id: str, headers: dict[str, str] | None = None) -> bool:
        """Publish at once, with a de-duplication id."""

    async def send(self, items: list[Outgoing]) -> bool:
        """Publish what a transaction just committed, in order; what fails stays for the outbox relay."""


class PostgresTx:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def find_decision_set(self, ds_id: str) -> dict[str, Any] | None:
        return await store.find_decision_set(self.conn, ds_id)

    async def create_decision_set(self, project_id: str, *, requirements: str = "",
                                  input_constraints: dict | None = None, parent_id: str | None = None,
                                  status: str = "intake", stage: str = "intake", ds_id: str | None = None,
                                  **columns: Any) -> dict[str, Any]:
        return await store.create_decision_set(self.conn, project_id, requirements=requirements,
                                               input_constraints=input_constraints, parent_id=parent_id,
                                               status=status, stage=stage, ds_id=ds_id, **columns)

    async def update_decision_set(self, ds_id: str, fields: dict[str, Any], *,
                                  expect_status: Iterable[str] | None = None, node: str = "",
                                  run_id: str | None = None, user_id: str | None = None,
                                  record_transition: bool = True) -> dict[str, Any]:
        return await store.update_decision_set(self.conn, ds_id, fields, expect_status=expect_status, node=node,
                                               run_id=run_id, user_id=user_id, record_transition=record_transition)

    async def insert_events(self, events: list[Event], step_key: str, checkpoint_id: str | None) -> list[Event]:
        return await store.insert_events(self.conn, events, step_key, checkpoint_id)

    async def record_run(self, key: str, project_id: str, ds_id: str, service: str, node: str, output: dict,
                         duration_ms: float, rows: list[tuple[str, str, bytes, str | None]]) -> list[Outgoing] | None:
        return await outbox.record_run(self.conn, key, project_id, ds_id, service, node, output, duration_ms, rows)

    async def upsert_cost(self, project_id: str, ds_id: str, estimate: dict) -> None:
        await store.upsert_cost(self.conn, project_id, ds_id, estimate)

    async def record_usage(self, project_id: str, ds_id: str | None, node: str, info: ProviderInfo,
                           usd: float) -> None:
        await record_usage(self.conn, project_id, ds_id, node, info, usd)

    async def add_dead_letter(self, service: str, subject: str, node: str, code: str, reason: str, body: bytes,
                              digest: str, project_id: str | None, ds_id: str | None) -> int:
        return await store.add_dead_letter(self.conn, service, subject, node, code, reason, body, digest, project_id,
                                           ds_id)

    async def enqueue(self, project_id: str, subject: str, msg_id: str, body: bytes,
                      ds_id: str | None = None) -> Outgoing:
        return await outbox.enqueue(self.conn, project_id, subject, msg_id, body, ds_id)

    async def enqueue_many(self, project_id: str, rows: list[tuple[str, str, bytes, str | None]]) -> list[Outgoing]:
        return await outbox.enqueue_many(self.conn, project_id, rows)


class PostgresStepStore:
    """The platform's step store: rows in Postgres, messages on JetStream through the outbox."""

    def __init__(self, pool: asyncpg.Pool, js: JetStreamContext, marks: outbox.SentMarks | None = None) -> None:
        self.pool = pool
        self.js = js
        self.marks = marks

    @asynccontextmanager
    async def transaction(self, timeout: float | None = None) -> AsyncIterator[StepTx]:
        async with self.pool.acquire(timeout=timeout) as conn, conn.transaction():
            yield PostgresTx(conn)

    async def get_run(self, key: str) -> dict[str, Any] | None:
        return await store.get_run(self.pool, key)

    async def find_decision_set(self, ds_id: str) -> dict[str, Any] | None:
        return await store.find_decision_set(self.pool, ds_id)

    async def publish(self, subject: str, body: bytes, msg_id: str, headers: dict[str, str] | None = None) -> bool:
        return await publish(self.js, subject, body, msg_id, headers=headers)

    async def send(self, items: list[Outgoing]) -> bool:
        return await outbox.send(self.pool, self.js, items, self.marks)
