"""A warm checkov: one long-lived checkov process per validators process.

A cold `checkov` costs seconds before it reads a file (importing it and loading its checks);
a scan in a process that has done that once costs a fraction of a second. So the validators
keep one checkov process per validators process, started on first use, fed one scan at a time
(checkov is not safe for concurrent scans in one process), and restarted when it dies, hangs
past a scan's time limit, or has served `MAX_SCANS` scans (checkov keeps a little state per run).

It runs sandboxed like the cold CLI: under bubblewrap where available (the tool environment and
the scans directory read-only, a tmpfs home, no network), with a memory limit. The scans
directory holds copies of trees' Terraform files only (see `checkov.terraform_view`), so a
repository's `.checkov.yaml` never reaches it.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..sandbox import limited_command, spawn_worker, stop_worker, worker_dir

log = logging.getLogger("amp.validators.checkov")

#: A worker is replaced after this many scans: a bound on whatever state checkov keeps between runs.
MAX_SCANS = 200
MEMORY_MB = 3072

# Inside the worker: import checkov once, install `checkov_warm` (its source is the worker's first
# argument: the tool environment has none of the platform), then one JSON request per line in, one
# JSON answer per line out. checkov prints its report on stdout, so each run's stdout is captured;
# the real stdout carries only the answers. A checkov that `checkov_warm` does not fit (another
# version) scans as it is, and says so in its first answer. What the import built (the loaded
# checks) lives as long as the worker, so it is frozen out of the collector's passes: a scan's
# 400-odd collections walked it every time (0.13 s of a scan's 0.8 s of CPU; 0.08 s frozen).
_WORKER = r"""
import contextlib, gc, io, json, os, sys
out = sys.stdout
sys.stdout = sys.stderr
import checkov.main
from checkov.main import Checkov
warm = {"__name__": "checkov_warm"}
try:
    exec(compile(sys.argv[1], "checkov_warm.py", "exec"), warm)
    warm["install"]()
    installed = None
except Exception as e:
    installed = f"{type(e).__name__}: {e}"
gc.collect()
gc.freeze()
out.write(json.dumps({"ready": True, "warm": installed is None, "why": installed}) + "\n"); out.flush()
for line in sys.stdin:
    req = json.loads(line)
    buf = io.StringIO()
    rc = 0
    try:
        os.chdir(req["dir"])
        # checkov's runners are module-level instances that keep the last scan's definitions and
        # would answer the next scan from them: fresh runners (cheap; the checks stay loaded).
        checkov.main.DEFAULT_RUNNERS[:] = [type(r)() for r in checkov.main.DEFAULT_RUNNERS]
        with contextlib.redirect_stdout(buf):
            rc = Checkov(argv=req["argv"]).run() or 0
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    except Exception as e:
        rc = 2
        buf.write("")
        sys.stderr.write(f"checkov failed: {type(e).__name__}: {e}\n")
    finally:
        os.chdir("/")
    out.write(json.dumps({"rc": rc, "stdout": buf.getvalue()}) + "\n"); out.flush()
"""


@dataclass(frozen=True)
class Scan:
    returncode: int
    stdout: str
    isolation: str


@cache
def warm_source() -> str:
    """What the worker installs after checkov's import (see `checkov_warm`)."""
    return Path(__file__).with_name("checkov_warm.py").read_text(encoding="utf-8")


class WorkerGone(RuntimeError):
    """The worker could not start, died, or did not answer in time (it has been stopped)."""


class CheckovWorker:
    """One warm checkov process; `scan(files, argv, timeout_s)` runs one scan in it."""

    def __init__(self, python: Path) -> None:
        self.python = python
        self.base = worker_dir("amp-checkov-")
        self.root = self.base / "scans"
        self.home = self.base / "home"
        self.root.mkdir()
        self.home.mkdir()
        self.proc: subprocess.Popen[bytes] | None = None
        self.scans = 0
        self.label = ""
        self.warm = False  # whether `checkov_warm` is installed in the running process
        self._lock = threading.Lock()

    def _start(self, timeout_s: float) -> None:
        full, child_env, label = limited_command(
            [str(self.python), "-c", _WORKER, warm_source()], cwd=Path("/"), home=self.home, memory_mb=MEMORY_MB, cpu_s=0,
            env={"PYTHONUNBUFFERED": "1", "LOG_LEVEL": "ERROR"}, readonly=[self.root],
            etc_dir=self.base / ".etc", die_with_parent=True)
        self.label = label or "limits only (memory; no sandbox on this host)"
        self.proc = spawn_worker(full, child_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
        self.scans = 0
        ready = self._answer(timeout_s)
        if ready.get("ready") is not True:
            raise WorkerGone("checkov did not start")
        self.warm = ready.get("warm") is True
        if not self.warm:
            log.warning("checkov scans without remembered answers: %s", ready.get("why"))

    def _answer(self, timeout_s: float) -> dict:
        """The worker's next line, or WorkerGone (and the worker stopped) after `timeout_s`."""
        proc = self.proc
        assert proc is not None and proc.stdout is not None
        result: list[bytes] = []
        reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout_s)
        if not result or not result[0]:
            self.stop()
            raise WorkerGone("checkov did not answer in time" if not result else "checkov exited")
        return json.loads(result[0])

    def scan(self, files: dict[str, str], argv: list[str], timeout_s: float) -> Scan:
        with self._lock:
            if self.proc is None or self.proc.poll() is not None or self.scans >= MAX_SCANS:
                self.stop()
                self._start(max(timeout_s, 60.0))  # importing checkov the first time takes seconds
            # Always the same directory, emptied, so paths in the report are alike from scan to scan.
            work = self.root / "scan"
            shutil.rmtree(work, ignore_errors=True)
            try:
                for rel, text in files.items():
                    target = work / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text, encoding="utf-8")
                work.mkdir(parents=True, exist_ok=True)
                assert self.proc is not None and self.proc.stdin is not None
                try:
                    self.proc.stdin.write((json.dumps({"dir": str(work), "argv": argv}) + "\n").encode())
                    self.proc.stdin.flush()
                except (BrokenPipeError, OSError) as e:
                    self.stop()
                    raise WorkerGone(f"checkov exited ({type(e).__name__})") from None
                answer = self._answer(timeout_s)
                self.scans += 1
                return Scan(int(answer.get("rc", 2)), str(answer.get("stdout", "")), self.label)
            finally:
                shutil.rmtree(work, ignore_errors=True)

    def stop(self) -> None:
        if self.proc is not None:
            stop_worker(self.proc)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


_workers: dict[Path, CheckovWorker] = {}
_workers_lock = threading.Lock()


def worker_for(checkov_exe: Path) -> CheckovWorker:
    """This process's worker for the checkov of that tool environment."""
    python = checkov_exe.parent / "python"
    with _workers_lock:
        worker = _workers.get(python)
        if worker is None:
            worker = _workers[python] = CheckovWorker(python)
        return worker
