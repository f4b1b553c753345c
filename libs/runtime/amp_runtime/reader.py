"""What a step reads from the shared store, as an interface.

Handlers read a few rows (the project, the decision set, its parent's cost, its Reason Cards);
behind this interface they can run against Postgres in production and against an in-memory
double in handler tests, while everything a step writes still goes through the step protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from . import store


class Reader(Protocol):
    async def project(self, project_id: str) -> dict[str, Any]: ...

    async def decision_set(self, ds_id: str, *, project_id: str) -> dict[str, Any]: ...

    async def find_decision_set(self, ds_id: str) -> dict[str, Any] | None: ...

    async def parent_cost(self, ds_id: str) -> dict[str, Any] | None: ...

    async def reason_cards(self, ds_id: str, *, project_id: str) -> list[dict[str, Any]]: ...


@dataclass
class PgReader:
    """The Postgres store, read through a pool."""

    pool: asyncpg.Pool

    async def project(self, project_id: str) -> dict[str, Any]:
        return await store.get_project(self.pool, project_id)

    async def decision_set(self, ds_id: str, *, project_id: str) -> dict[str, Any]:
        return await store.get_decision_set(self.pool, ds_id, project_id=project_id)

    async def find_decision_set(self, ds_id: str) -> dict[str, Any] | None:
        return await store.find_decision_set(self.pool, ds_id)

    async def parent_cost(self, ds_id: str) -> dict[str, Any] | None:
        return await store.parent_cost(self.pool, ds_id)

    async def reason_cards(self, ds_id: str, *, project_id: str) -> list[dict[str, Any]]:
        return await store.list_reason_cards(self.pool, ds_id, project_id=project_id)
