"""The hostile corpus against the real sandbox: every escape is contained and the run says so.

Runs the corpus with the same `Sandbox.run_untrusted` the pytest check uses, reading the full
output, while this process holds platform secrets in its environment, listens on a TCP port and a
Unix socket, and owns the directories the corpus tries to write into.
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from services.validators.isolation import isolation
from services.validators.sandbox import MAX_PROCESSES, Sandbox, Step
from tests.hostile.corpus import escape_tests, sleep_forever_test

pytestmark = pytest.mark.skipif(not isolation().available, reason=f"no isolation here: {isolation().reason}")

PLANTED = f"sk-ant-planted-{uuid.uuid4().hex}"
LEAK = re.compile(r"LEAK:[A-Z_]+@")  # what the corpus prints for a platform variable it could read
CONNECTED = re.compile(r"CONNECTED:[/\d]")


def host_processes_with(tag: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if tag in line and "ps -eo" not in line]


def test_the_corpus_is_contained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", PLANTED)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://amp:{PLANTED}@127.0.0.1:5432/amp")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    markers = [f"/tmp/amp-hostile-{uuid.uuid4().hex}", str(data_dir / "marker"), str(Path(sys.prefix) / "marker"),
               str(Path(__file__).resolve().parents[3] / "marker"), str(Path.home() / "amp-hostile-marker")]
    tag = f"86399.{random.randrange(10**6):06d}"
    with socket.socket() as tcp, socket.socket(socket.AF_UNIX) as unix:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        unix_path = str(tmp_path / ".s.PGSQL.5432")
        unix.bind(unix_path)
        unix.listen()
        files = {"tests/test_escape.py": escape_tests(markers, [tcp.getsockname()[1]], [unix_path], tag)}
        with Sandbox(files) as sb:
            (run,) = sb.run_untrusted([Step([sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider"],
                                            timeout_s=120, env={"COLUMNS": "400"})])
    out = run.stdout
    assert run.warm, "the corpus ran as generated tests do: in a fork of the sandbox's warm interpreter"
    # Inside, /tmp and the made-up parents are the sandbox's own tmpfs: what matters is the host.
    assert "MARKERS written=" in out, (run.returncode, out[-3000:], run.stderr[-3000:])
    assert not [m for m in markers if Path(m).exists()]
    assert "ENVIRON sources=" in out and not LEAK.search(out) and PLANTED not in out + run.stderr
    assert "PORTS tried=2" in out and not CONNECTED.search(out)
    forked = int(re.search(r"FORKED (\d+)", out).group(1))
    assert 0 < forked < MAX_PROCESSES
    assert "FILLED mb=" in out
    assert "5 failed, 1 passed" in out  # every case ran to its end
    assert any("left running were killed" in s for s in run.stopped)
    assert any("repository copy reached" in s for s in run.stopped) and any("/tmp reached" in s for s in run.stopped)
    assert not host_processes_with(tag), "a setsid or double-forked process outlived the run"


def test_sleep_forever_is_stopped_at_the_time_limit() -> None:
    with Sandbox({"tests/test_sleep.py": sleep_forever_test()}) as sb:
        started = time.monotonic()
        (run,) = sb.run_untrusted([Step([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], timeout_s=3)])
    assert run.timed_out and time.monotonic() - started < 60  # killed, not left to sleep
    assert "stopped after the 3 s time limit" in run.stopped


def test_the_environment_inside_is_only_what_the_tools_need(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", PLANTED)
    code = "import json, os; print(json.dumps(dict(os.environ))); print(open('/proc/1/environ').read() or 'EMPTY')"
    with Sandbox({"show.py": code}) as sb:
        (run,) = sb.run_untrusted([Step([sys.executable, "show.py"], timeout_s=20)])
    assert run.returncode == 0, run.stderr
    import json

    env = json.loads(run.stdout.splitlines()[0])
    assert PLANTED not in run.stdout
    assert set(env) <= {"PATH", "HOME", "TMPDIR", "XDG_CACHE_HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE",
                        "TZ", "PYTHONPATH", "PWD", "NO_PROXY", "no_proxy", "PIP_NO_INDEX", "PIP_DISABLE_PIP_VERSION_CHECK",
                        "CHECKPOINT_DISABLE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "PYTHONDONTWRITEBYTECODE",
                        "PYTHONNOUSERSITE", "BC_SKIP_MAPPING", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "ANSIBLE_NOCOLOR"}
    assert env["HOME"] == "/home/sandbox" and run.stdout.splitlines()[-1] == "EMPTY"


def test_without_isolation_generated_code_is_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.validators import isolation as iso
    from services.validators.checks import validate_tree

    monkeypatch.setenv("AMP_BWRAP", "/nonexistent/bwrap")
    iso.isolation.cache_clear()
    try:
        marker = Path(f"/tmp/amp-bare-{uuid.uuid4().hex}")
        files = {"tests/test_x.py": f"open({str(marker)!r}, 'w').write('ran')\n\ndef test_x():\n    pass\n"}
        report = validate_tree(files, checks=["pytest"], checkov=False)
    finally:
        iso.isolation.cache_clear()
    result = report.tool("pytest")
    assert result.status == "skipped" and result.reason.startswith("no isolation")
    assert not marker.exists()
    assert os.environ.get("AMP_BWRAP") == "/nonexistent/bwrap"
