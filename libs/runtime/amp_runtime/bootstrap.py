"""Wiring of a process's dependencies, in one place: pools, bus, checkpointer, artifact store, git history."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from .artifacts import S3ArtifactStore, artifact_store
from .bus import connect, ensure_stream
from .db import create_pool
from .deps import Deps
from .gitstore import git_store, import_disk_repository
from .graphs import ReadAheadSaver, serializer
from .outbox import SentMarks
from .providers import PackRegistry, providers_from_settings
from .reader import PgReader
from .settings import Settings
from .telemetry import housekeeping_task

log = logging.getLogger("amp.bootstrap")


async def open_checkpointer(database_url: str, max_size: int = 5):
    """LangGraph's Postgres saver over a psycopg pool (its own driver; see STACK notes).

    Its connections commit without waiting for the WAL flush (`synchronous_commit=off`). That is
    safe here: a step records itself in its own, synchronous transaction after its graph ran, and
    that commit flushes the WAL up to and including the checkpoint's records. A crash before it
    loses nothing the redelivered step would not write again.
    """
    pool = AsyncConnectionPool(database_url, min_size=1, max_size=max_size, open=False,
                               kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row,
                                       "options": "-c synchronous_commit=off"})
    await pool.open()
    return ReadAheadSaver(pool, serde=serializer()), pool


@contextlib.asynccontextmanager
async def open_deps(settings: Settings, name: str, *, graphs: bool = True) -> AsyncIterator[Deps]:
    """The process's dependencies. `graphs=False` for a process that runs no LangGraph graph (the
    gateway, the webhooks service): no checkpointer, so no connection pool held open for one."""
    if not settings.nats_url or not settings.database_url:
        raise RuntimeError("NATS_URL and DATABASE_URL must be set for a service (amp up sets them)")
    pool = await create_pool(settings.database_url)
    nc = await connect(settings.nats_servers, f"amp-{name}-pub")
    js = nc.jetstream()
    await ensure_stream(js, settings.stream_name, settings.duplicate_window_s, settings.stream_replicas)
    saver, saver_pool = await open_checkpointer(settings.database_url) if graphs else (None, None)
    artifacts = artifact_store(settings.artifacts_dir, settings.s3_bucket, settings.s3_endpoint_url,
                               settings.s3_public_endpoint_url)
    deps = Deps(settings=settings, pool=pool, nc=nc, js=js, checkpointer=saver, artifacts=artifacts,
                providers=providers_from_settings(settings, artifacts, PackRegistry(settings.prompt_dirs)),
                reader=PgReader(pool),
                git=git_store(pool, artifacts if isinstance(artifacts, S3ArtifactStore) else None),
                sent_marks=SentMarks(pool))
    marking = housekeeping_task(deps.sent_marks.run())
    try:
        yield deps
    finally:
        marking.cancel()
        await close_within(deps.sent_marks.flush(), None, "the outbox marks")
        await close_within(nc.drain(), nc.close, "the bus")
        if saver_pool is not None:
            await close_within(saver_pool.close(), None, "the checkpointer's pool")
        await close_within(pool.close(), pool.terminate, "the database pool")


#: Each resource gets this long to close cleanly on shutdown; then it is dropped. A process must
#: exit within Kubernetes' grace period whatever state its bus and database are in.
CLOSE_TIMEOUT_S = 3.0


async def close_within(closing: Awaitable[Any], force: Callable[[], Any] | None, what: str) -> None:
    try:
        await asyncio.wait_for(closing, CLOSE_TIMEOUT_S)
    except Exception as e:  # noqa: BLE001 - shutting down: log, force, go on
        log.warning("closing %s did not finish cleanly (%s); dropping it", what, type(e).__name__)
        if force is not None:
            try:
                result = force()
                if asyncio.iscoroutine(result):
                    await asyncio.wait_for(result, 1.0)
            except Exception:  # noqa: BLE001
                pass


async def import_local_history(settings: Settings) -> list[str]:
    """Move git history from `AMP_DATA_DIR/repos` (where it lived before the shared stores) into them.

    Each `<project>.git` is copied, then the directory is renamed `repos.imported` (kept, not
    read again). Returns the projects imported; nothing to do is the usual case.
    """
    repos = settings.data_dir / "repos"
    if not repos.is_dir() or not settings.database_url:
        return []
    pool = await create_pool(settings.database_url, max_size=2)
    try:
        artifacts = artifact_store(settings.artifacts_dir, settings.s3_bucket, settings.s3_endpoint_url)
        git = git_store(pool, artifacts if isinstance(artifacts, S3ArtifactStore) else None)
        done = []
        for path in sorted(repos.glob("*.git")):
            await import_disk_repository(str(path), git.repo(path.name.removesuffix(".git")))
            done.append(path.name.removesuffix(".git"))
    finally:
        await pool.close()
    repos.rename(repos.with_name("repos.imported"))
    return done
