"""A platform that cannot start on this machine says why in one message, and leaves nothing running."""

from __future__ import annotations

import subprocess
import sys

from amp_runtime.embedded import EmbeddedPostgres
from cli_helpers import ROOT, env


def test_a_data_directory_still_held_by_another_postgres_is_named_not_traced(tmp_path) -> None:
    """An earlier `amp` still runs the data directory's Postgres: `amp up` there stops with the
    server's own reason and where the files are, instead of a traceback, and the nats-server it
    had started is stopped again."""
    data = tmp_path / "data"
    held = EmbeddedPostgres(data / "postgres", durable=False).start()
    try:
        clean = {k: v for k, v in env().items() if k not in ("NATS_URL", "DATABASE_URL", "AMP_DATA_DIR")}
        done = subprocess.run([sys.executable, "-m", "amp_cli.main", "up", "--data-dir", str(data)], cwd=ROOT,
                              env=clean, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    finally:
        held.stop()
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "amp: the embedded Postgres did not start" in done.stderr and "postmaster.pid" in done.stderr
    assert str(data / "postgres") in done.stderr
    running = subprocess.run(["pgrep", "-f", f"nats-server.*{data}"], capture_output=True, text=True, check=False)
    assert running.stdout.strip() == "", "the nats-server it started is left running"
