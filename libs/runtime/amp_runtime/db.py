"""Postgres access: asyncpg pools for the application, Alembic for the schema.

The LangGraph checkpointer uses psycopg 3 (its own driver); everything else here is asyncpg.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

MIGRATIONS = Path(__file__).with_name("migrations")


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=dumps, decoder=json.loads, schema="pg_catalog")


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """A json/jsonb parameter as text. orjson: a step writes its events, its record and its outbox
    rows as JSON, and the standard encoder was the largest single cost of an agent's CPU. What
    orjson refuses (an integer beyond 64 bits) goes through the standard encoder. Reading stays
    with the standard decoder: orjson would turn such an integer into a float. `default` turns
    what neither knows into something they do (as `json.dumps`'s)."""
    try:
        return orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, default=default)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset when a connection goes back to the pool.

    asyncpg's default sends `RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()` on every
    release, a round trip per acquire. The application keeps no session state (no LISTEN, no
    session-level advisory locks or settings: only transaction-scoped ones), and asyncpg still
    rolls back a transaction left open before calling this."""


async def create_pool(database_url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(database_url, min_size=min_size, max_size=max_size, init=_init_connection,
                                     reset=_keep_session, command_timeout=30)


def sqlalchemy_url(database_url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix):]
    return database_url


def upgrade(database_url: str, revision: str = "head") -> None:
    """Run the Alembic migrations (idempotent: an up-to-date database is left as it is)."""
    # lazy: Alembic and SQLAlchemy are needed only to migrate
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url))
    command.upgrade(cfg, revision)


async def setup_checkpointer(database_url: str) -> None:
    """Create LangGraph's checkpoint tables (its own idempotent migrations)."""
    async with AsyncPostgresSaver.from_conn_string(database_url) as saver:
        await saver.setup()


async def migrate(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    await setup_checkpointer(database_url)
