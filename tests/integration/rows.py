"""Rows the integration tests start from, written through the store as the gateway writes them."""

from __future__ import annotations

import uuid

from amp_runtime import store


async def new_decision_set(pool) -> tuple[str, str]:  # noqa: ANN001 - an asyncpg pool
    """A fresh project with one decision set: (project id, decision set id)."""
    project = await store.create_project(pool, f"p-{uuid.uuid4().hex[:6]}")
    async with pool.acquire() as conn:
        ds = await store.create_decision_set(conn, project["id"], requirements="x")
    return project["id"], ds["id"]
