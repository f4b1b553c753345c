"""An agent's health endpoint (`amp serve <agent> --health-port`, or AMP_HEALTH_PORT): what Docker,
Kubernetes and App Runner probe. It answers while the process holds its NATS connection, and the
process still stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
from amp_cli.stack import Stack
from amp_runtime.embedded import free_port

pytestmark = pytest.mark.integration


def _wait_health(url: str, proc, timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            assert proc.poll() is None, f"the agent exited ({proc.returncode}) before answering"
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.2)


def test_agent_serves_healthz_and_stops_on_sigterm(settings, tmp_path) -> None:
    port = free_port()
    s = Stack(settings.model_copy(update={"data_dir": tmp_path}))
    s.spawn_agent("policy-0", {"AMP_HEALTH_PORT": str(port)})
    proc = s.procs["policy-0"]
    try:
        r = _wait_health(f"http://127.0.0.1:{port}/healthz", proc)
        assert r.status_code == 204  # FastStream's ping of the broker connection
        assert httpx.get(f"http://127.0.0.1:{port}/other", timeout=2).status_code == 404
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        log = (tmp_path / "logs" / "policy-0.log").read_text()
        assert "shut down gracefully" in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_processes_started_together_do_not_inherit_the_health_port(settings, tmp_path, monkeypatch) -> None:
    """`amp up` runs several agents on one host: a port meant for one container must not reach them."""
    port = free_port()
    monkeypatch.setenv("AMP_HEALTH_PORT", str(port))
    s = Stack(settings.model_copy(update={"data_dir": tmp_path}))
    s.spawn_agent("critics-0")
    try:
        log = tmp_path / "logs" / "critics-0.log"
        deadline = time.monotonic() + 60
        while "started successfully" not in (log.read_text() if log.exists() else ""):
            assert s.procs["critics-0"].poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        s.stop()
