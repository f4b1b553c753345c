"""The embedded nats-server starts even when a port picked for it is taken before it binds it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from amp_runtime import embedded
from amp_runtime.embedded import EmbeddedNats, EmbeddedPostgres, ServerExited


@pytest.fixture
def taken() -> Iterator[int]:
    """A port some other process listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_a_picked_port_taken_meanwhile_is_picked_again(tmp_path, taken, monkeypatch) -> None:
    """The first port handed out is taken by the time the server binds it (as an outgoing
    connection's local port can be): the server exits, and the start tries fresh ports."""
    picks = iter([taken])
    real = embedded.free_port
    monkeypatch.setattr(embedded, "free_port", lambda: next(picks, None) or real())
    server = EmbeddedNats(tmp_path / "nats").start()
    try:
        assert server.port != taken and server._healthy()
        assert "address already in use" in (tmp_path / "nats" / "nats-server.log").read_text()
    finally:
        server.stop()


def test_a_chosen_port_that_is_taken_fails_at_once_saying_why(tmp_path, taken) -> None:
    """Not a wait for the ready timeout ending in 'did not become ready' (a plain RuntimeError):
    the server's exit, with its own reason."""
    with pytest.raises(ServerExited, match="address already in use"):
        EmbeddedNats(tmp_path / "nats", port=taken).start()


def test_postgres_tries_another_port_when_its_own_is_taken_at_start(tmp_path, taken, monkeypatch) -> None:
    """The port looked free when checked and was taken before Postgres bound it."""
    checked = iter([True])
    real = embedded._port_free
    monkeypatch.setattr(embedded, "_port_free", lambda port: next(checked, None) or real(port))
    server = EmbeddedPostgres(tmp_path / "pg", port=taken, durable=False).start()
    try:
        assert server.port != taken
        assert (tmp_path / "pg" / "pg.port").read_text() == str(server.port)
        assert "Address already in use" in (server.home / "postgres.log").read_text()
    finally:
        server.stop()
