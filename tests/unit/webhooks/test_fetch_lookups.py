"""One fetch of event batches looks up each project's subscriptions once, and never keeps a failed lookup."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.webhooks.delivery import Subscriptions


class CountingPool:
    """Answers `fetch` with one enabled subscription per project, failing where told; counts the queries."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.queries: list[str] = []
        self.failing = failing or set()

    async def fetch(self, sql: str, project: uuid.UUID) -> list[dict[str, Any]]:
        self.queries.append(str(project))
        if str(project) in self.failing:
            self.failing.discard(str(project))
            raise ConnectionError("the database went away")
        return [{"id": uuid.uuid5(project, "sub"), "events": ["run.complete"], "created_at": None}]


async def test_each_project_is_looked_up_once_per_fetch() -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    pool = CountingPool()
    subs = Subscriptions(pool)
    first = await subs.of(a)
    assert await subs.of(a) == first and len(first) == 1
    await subs.of(b)
    assert pool.queries == [a, b]
    # the next fetch asks again: a subscription created since then is seen
    await Subscriptions(pool).of(a)
    assert pool.queries == [a, b, a]


async def test_a_failed_lookup_is_asked_again() -> None:
    a = str(uuid.uuid4())
    pool = CountingPool(failing={a})
    subs = Subscriptions(pool)
    with pytest.raises(ConnectionError):
        await subs.of(a)
    assert len(await subs.of(a)) == 1
    assert pool.queries == [a, a]
