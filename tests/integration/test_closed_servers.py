"""The embedded bus and database are closed to the host: a password each, kept 0600 in the data directory."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
import pytest
from nats.errors import NoServersError

pytestmark = pytest.mark.integration


def _bare(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port}", parts.path, "", ""))


async def test_nats_refuses_a_client_without_the_password(nats_url) -> None:
    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(_bare(nats_url), allow_reconnect=False, connect_timeout=3, max_reconnect_attempts=0)
    parts = urlsplit(nats_url)
    wrong = nats_url.replace(f":{parts.password}@", ":wrong@")
    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(wrong, allow_reconnect=False, connect_timeout=3, max_reconnect_attempts=0)
    nc = await nats.connect(nats_url, allow_reconnect=False, connect_timeout=5)
    assert nc.is_connected
    await nc.close()


async def test_postgres_wants_a_password_on_tcp_and_on_its_socket(database_url, tmp_root: Path) -> None:
    parts = urlsplit(database_url)
    with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError,
                        asyncpg.ClientConfigurationError)):
        await asyncpg.connect(host=parts.hostname, port=parts.port, user=parts.username, database="amp",
                              password="", timeout=5)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(host=parts.hostname, port=parts.port, user=parts.username, database="amp",
                              password="wrong", timeout=5)
    from amp_runtime.embedded import EmbeddedPostgres

    sock = EmbeddedPostgres(tmp_root / "pg").home / "sock"
    if not sock.exists():
        pytest.skip("the session uses a Postgres of its own (TEST_DATABASE_URL)")
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(host=str(sock), port=parts.port, user=parts.username, database="amp",
                              password="wrong", timeout=5)
    conn = await asyncpg.connect(database_url, timeout=5)
    assert await conn.fetchval("SHOW password_encryption") == "scram-sha-256"
    hba = await conn.fetch("SELECT auth_method FROM pg_hba_file_rules")
    assert {r["auth_method"] for r in hba} == {"scram-sha-256"}
    await conn.close()


def test_the_passwords_are_private_files(tmp_root: Path, nats_url, database_url) -> None:
    for secret in (tmp_root / "nats" / "password", tmp_root / "pg" / "password"):
        if not secret.exists():
            pytest.skip("the session uses servers of its own")
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700


def test_the_asyncapi_document_shows_no_credentials(client, stack, nats_url) -> None:
    doc = client.get("/asyncapi.json")
    text = str(doc)
    password = urlsplit(nats_url).password
    assert password and password not in text
    assert urlsplit(stack.settings.database_url).password not in text
