"""The sandbox: paths cannot escape, tools run with limits, a scrubbed env and a timeout."""

from __future__ import annotations

import sys

import pytest
from amp_domain.paths import UnsafePath, safe_relpath

from services.validators.sandbox import Sandbox


@pytest.mark.parametrize("path", ["/etc/passwd", "../x", "a/../../x", "", "."])
def test_paths_that_escape_are_refused(path: str) -> None:
    with pytest.raises(UnsafePath):
        safe_relpath(path)


def test_files_are_written_and_removed() -> None:
    with Sandbox({"a/b.txt": "hi"}) as sb:
        root = sb.root
        assert (root / "a" / "b.txt").read_text() == "hi"
    assert not root.exists()


def test_environment_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-for-children")
    code = "import os, json; print(json.dumps(dict(os.environ)))"
    with Sandbox({}) as sb:
        res = sb.run([sys.executable, "-c", code], timeout_s=30)
        import json

        env = json.loads(res.stdout)
        assert env["HOME"] == str(sb.home)
    assert "HTTPS_PROXY" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert env["NO_PROXY"] == "*" and env["PIP_NO_INDEX"] == "1"


def test_timeout_kills_the_process_group() -> None:
    with Sandbox({}) as sb:
        res = sb.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.5)
    assert res.timed_out and res.duration_ms < 10_000


def test_memory_limit_applies() -> None:
    with Sandbox({}) as sb:
        res = sb.run([sys.executable, "-c", "b = bytearray(600 * 1024 * 1024)"], timeout_s=30, memory_mb=256)
    assert res.returncode != 0 and "MemoryError" in res.stderr


def test_tools_run_without_network(tmp_path):
    """A tool in the sandbox cannot reach even a server on this machine's loopback."""
    import socket

    from services.validators.sandbox import no_network_prefix, run_limited

    if not no_network_prefix():
        pytest.skip("this kernel or user cannot create a network namespace (unshare failed)")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        probe = (f"import socket; s = socket.socket(); s.settimeout(2); "
                 f"print(s.connect_ex(('127.0.0.1', {port})))")
        result = run_limited([sys.executable, "-c", probe], cwd=tmp_path, home=tmp_path, timeout_s=20)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() != "0"  # the connection was refused or unreachable
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # while from outside the sandbox the same server answers


def test_worker_directories_of_processes_that_are_gone_are_removed(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's directory carries its process's pid; a new one removes those whose process no longer
    runs (stopped without closing its workers), and nothing of a running process or of other names."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    from services.validators.sandbox import worker_dir  # noqa: PLC0415

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = tmp_path / f"amp-w-{gone.pid}-abc"
    alive = tmp_path / f"amp-w-{os.getppid()}-def"
    other = tmp_path / "amp-w-notapid"
    for d in (dead, alive, other):
        (d / "home").mkdir(parents=True)
    mine = worker_dir("amp-w-")
    assert mine.is_dir() and mine.name.startswith(f"amp-w-{os.getpid()}-")
    assert not dead.exists() and alive.exists() and other.exists()
    assert worker_dir("amp-w-") != mine and mine.exists()  # this process's own are kept
