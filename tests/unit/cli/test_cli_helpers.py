"""Pure helpers of the CLI."""

from __future__ import annotations


def test_server_urls_are_shown_without_secrets() -> None:
    from amp_cli.main import without_secrets

    assert without_secrets("postgresql://amp:s3cret@127.0.0.1:5432/amp") == "postgresql://amp:***@127.0.0.1:5432/amp"
    assert without_secrets("nats://user:pw@127.0.0.1:4222") == "nats://user:***@127.0.0.1:4222"
    assert without_secrets("nats://t0ken@127.0.0.1:4222") == "nats://***@127.0.0.1:4222"
    assert without_secrets("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
