"""Session fixtures: real servers, started once.

NATS with JetStream and Postgres come from the embedded wheels (or TEST_NATS_URL /
TEST_DATABASE_URL when set, each session then in a fresh database). Nothing of ours is mocked.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_USER = "test-user"


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="amp-test-"))
    path.chmod(0o755)
    yield path
    if not os.environ.get("AMP_KEEP_TEST_DATA"):  # set it to read the services' logs after a failure
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_url(tmp_root: Path) -> Iterator[str]:
    if os.environ.get("TEST_NATS_URL"):
        yield os.environ["TEST_NATS_URL"]
        return
    from amp_runtime.embedded import EmbeddedNats

    server = EmbeddedNats(tmp_root / "nats").start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_root: Path) -> Iterator[str]:
    if os.environ.get("TEST_DATABASE_URL"):
        import asyncpg

        base = os.environ["TEST_DATABASE_URL"]
        name = f"amp_test_{uuid.uuid4().hex[:8]}"

        async def create() -> None:
            conn = await asyncpg.connect(base)
            await conn.execute(f'CREATE DATABASE "{name}"')
            await conn.close()

        asyncio.run(create())
        yield base.rsplit("/", 1)[0] + "/" + name
        return
    from amp_runtime.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_root / "pg", durable=False).start()  # a throwaway cluster
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    from amp_runtime.db import migrate

    asyncio.run(migrate(database_url))
    return database_url


@pytest.fixture(scope="session")
def settings(nats_url: str, migrated: str, tmp_root: Path):
    from amp_runtime.embedded import free_port
    from amp_runtime.settings import Settings

    return Settings(nats_url=nats_url, database_url=migrated, data_dir=tmp_root / "data",
                    gateway_port=free_port(), ack_wait_s=3.0, max_deliver=3, sweep_interval_s=0.5,
                    # webhooks go to receivers on loopback, over http, and retry within seconds
                    webhook_allow_http=True, webhook_allow_private=True, webhook_poll_s=0.2,
                    webhook_fetch_wait_s=0.3,
                    webhook_retry_schedule_s=(0.3, 0.6, 1.0, 1.5, 2.0, 3.0),
                    # the whole suite writes as one user: its own limits are tested on a gateway of their own
                    rate_limit_per_min=100_000, sse_streams_per_user=1_000)


@pytest.fixture(scope="session")
def stack(settings) -> Iterator:
    """Every agent in its own process plus the gateway, against the session's servers."""
    from amp_cli.stack import Stack

    s = Stack(settings)
    s.start_services()
    # the suite's own user: every client of the stack (Client, `amp` subprocesses) signs in as it
    os.environ["AMP_TOKEN"] = s.token(TEST_USER, ttl_s=24 * 3600)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def auth_headers(stack) -> dict[str, str]:
    """The suite user's bearer header, for tests that speak HTTP to the gateway directly."""
    return {"Authorization": f"Bearer {os.environ['AMP_TOKEN']}"}


@pytest.fixture()
def client(stack):
    from amp_cli.client import Client

    c = Client(stack.gateway_url, timeout=60)
    yield c
    c.close()
