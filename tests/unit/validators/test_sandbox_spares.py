"""Spare sandboxes: an untrusted run's steps in a fork of an interpreter that imported the test
libraries before the tree arrived, behaving as a new interpreter would, one sandbox per run."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from services.validators import sandbox
from services.validators.isolation import isolation
from services.validators.sandbox import SPARE_NICE, SPARES, Sandbox, Spares, Step, can_restore_priority, tree_tasks

pytestmark = pytest.mark.skipif(not isolation().available, reason=f"no isolation here: {isolation().reason}")

PY = sys.executable
T = TypeVar("T")


def _eventually(check: Callable[[], T], what: str, timeout_s: float = 20.0) -> T:
    """`check()`'s first true value, asked every 50 ms for up to `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s:.0f} s"
        time.sleep(0.05)
    return value

STEP_C = """
import atexit, os, sys, threading, time
atexit.register(lambda: print("ATEXIT", flush=True))
def late():
    time.sleep(0.2)
    print("THREAD", flush=True)
threading.Thread(target=late).start()
print("ARGV", sys.argv, sys.orig_argv[-2:])
print("CWD", os.getcwd(), "PATH0", repr(sys.path[0]), "NAME", __name__)
print("ENV", os.environ.get("STEP_ONLY"), "STDIN", repr(sys.stdin.read()))
import helper
print("HELPER", helper.VALUE)
sys.exit(3)
"""


def test_a_warm_step_behaves_as_a_new_interpreter() -> None:
    files = {"helper.py": "VALUE = 41 + 1\n",
             "pkg/__init__.py": "",
             "pkg/tool.py": "import sys\nprint('MODULE', sys.argv[0].endswith('pkg/tool.py'), sys.argv[1:])\n"
                            "raise ValueError('boom')\n",
             "pkg/says.py": "import sys\nsys.exit('a message instead of a code')\n",
             "pkg/minus.py": "raise SystemExit(-1)\n"}
    with Sandbox(files) as sb:
        runs = sb.run_untrusted([Step([PY, "-c", STEP_C, "one", "two"], timeout_s=30, env={"STEP_ONLY": "yes"}),
                                 Step([PY, "-m", "pkg.tool", "--flag"], timeout_s=30),
                                 Step([PY, "-m", "pkg.says"], timeout_s=30),
                                 Step([PY, "-m", "pkg.minus"], timeout_s=30)])
    c, m, says, minus = runs
    assert all(r.warm for r in runs), [(r.argv[:2], r.warm) for r in runs]
    assert c.returncode == 3, c.stderr
    out = c.stdout.splitlines()
    assert "ARGV ['-c', 'one', 'two'] ['one', 'two']" in out
    assert "CWD /repo PATH0 '' NAME __main__" in out
    assert "ENV yes STDIN ''" in out and "HELPER 42" in out
    assert out.index("THREAD") < out.index("ATEXIT"), "threads are joined, then atexit runs, as at interpreter exit"
    assert m.returncode == 1 and "MODULE True ['--flag']" in m.stdout
    assert "ValueError: boom" in m.stderr and "Traceback" in m.stderr
    assert says.returncode == 1 and "a message instead of a code" in says.stderr
    assert minus.returncode == 255, "a negative code is what the operating system makes of it"


def test_the_preloaded_libraries_are_kept_out_of_a_warm_steps_collections() -> None:
    """What the warm imports built is frozen: a step's collections walk only its own objects,
    and the libraries are still there to use."""
    step = ("import gc, sys\n"
            "print(gc.get_freeze_count() > 10000, 'pytest' in sys.modules)\n"
            "import pytest; print(callable(pytest.main))\n")
    with Sandbox({}) as sb:
        (run,) = sb.run_untrusted([Step([PY, "-c", step], timeout_s=30)])
    assert run.returncode == 0 and run.warm, run.stderr
    assert run.stdout.split() == ["True", "True", "True"]


def test_a_step_that_is_not_the_interpreters_own_runs_in_a_new_process() -> None:
    with Sandbox({"run.sh": "echo shell $0\n"}) as sb:
        (run,) = sb.run_untrusted([Step(["/bin/sh", "run.sh"], timeout_s=30)])
    assert run.returncode == 0 and run.stdout.strip() == "shell run.sh" and not run.warm


def test_a_tree_that_would_replace_a_warm_library_runs_cold() -> None:
    """`httpx` is imported before the tree arrives; a tree with its own `httpx` gets its own, as
    a new interpreter with /repo first on its path would."""
    with Sandbox({"httpx.py": "MARK = 'the tree'\n"}) as sb:
        (run,) = sb.run_untrusted([Step([PY, "-c", "import httpx; print(httpx.MARK)"], timeout_s=30)])
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "the tree" and not run.warm


def test_each_run_has_a_sandbox_of_its_own() -> None:
    leave = ("import os, subprocess\n"
             "open('/tmp/left-behind', 'w').write('x'); open('/repo/written', 'w').write('x')\n"
             "subprocess.Popen(['sleep', '300'], start_new_session=True)\n")
    look = ("import os\n"
            "print(sorted(os.listdir('/repo')), os.path.exists('/tmp/left-behind'))\n"
            "print(sorted(p for p in os.listdir('/proc') if p.isdigit() and int(p) > 1 and int(p) != os.getpid()"
            " and open(f'/proc/{p}/cmdline').read().split(chr(0))[0] == 'sleep'))\n")
    with Sandbox({"first.py": "x = 1\n"}) as sb:
        (first,) = sb.run_untrusted([Step([PY, "-c", leave], timeout_s=30)])
    assert first.returncode == 0, first.stderr
    assert any("left running were killed" in s for s in first.stopped)
    deadline = time.monotonic() + 30
    while not SPARES.ready():  # the next run's sandbox is started once a run ends
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with Sandbox({"second.py": "y = 2\n"}) as sb:
        (second,) = sb.run_untrusted([Step([PY, "-c", look], timeout_s=30)])
    assert second.returncode == 0 and second.warm, second.stderr
    listing, sleepers = second.stdout.splitlines()
    assert listing == "['second.py'] False"
    assert sleepers == "[]"


def test_an_unused_spare_is_stopped() -> None:
    spares = Spares(idle_s=0.5)
    spares.refill(isolation())
    assert spares.ready()
    spare = spares._ready
    deadline = time.monotonic() + 20
    while spares.ready() or spare.alive() or spare.base.exists():
        assert time.monotonic() < deadline, "the spare outlived its idle time"
        time.sleep(0.05)
    spares.close()


def test_the_next_sandbox_waits_for_the_runs_under_way() -> None:
    """Where a spare cannot run at a low priority, validations that follow each other without a
    pause start their own sandboxes: a spare started while one runs would only share its CPU."""
    found = isolation()
    spares = Spares(delay_s=0.1, low_priority=False)
    first, second = spares.take(found), spares.take(found)
    first.close()
    spares.release(found)
    time.sleep(1.0)
    assert not spares.ready(), "a run is still under way"
    second.close()
    spares.release(found)
    _eventually(spares.ready, "no spare once the runs were over")
    spares.close()


@pytest.mark.skipif(not can_restore_priority(), reason="this process may not give a process its priority back")
def test_a_low_priority_spare_is_ready_at_once_and_its_run_has_the_normal_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the platform may raise a priority again, the next sandbox starts as soon as a run
    ends, even beside another run, at the lowest priority; the run that takes it gets the
    platform's priority for every process of it, and its steps inherit that."""
    found = isolation()
    base = os.getpriority(os.PRIO_PROCESS, 0)
    spares = Spares()
    try:
        first, second = spares.take(found), spares.take(found)
        first.close()
        spares.release(found)
        _eventually(spares.ready, "no spare beside the run under way")
        spare = spares._ready
        assert spare is not None and spare.low_priority
        tasks = _eventually(lambda: len(t := tree_tasks(spare.proc.pid)) >= 3 and t,  # bwrap, its init, the supervisor
                            "the spare's processes")
        assert {os.getpriority(os.PRIO_PROCESS, t) for t in tasks} == {SPARE_NICE}
        second.close()
        spares.release(found)
        monkeypatch.setattr(sandbox, "SPARES", spares)
        with Sandbox({}) as sb:
            (run,) = sb.run_untrusted([Step([PY, "-c", "import os; print(os.nice(0))"], timeout_s=30)])
        assert not spare.low_priority and not spare.alive(), "the run took it, raised it, and it is gone"
        assert run.returncode == 0 and run.warm, run.stderr
        assert int(run.stdout.strip()) == base
    finally:
        spares.close()


def test_a_process_tree_is_found_with_or_without_the_kernels_children_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    tree = subprocess.Popen(["/bin/sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        found = _eventually(lambda: len(t := tree_tasks(tree.pid)) >= 3 and t, "the shell and its two sleeps")
        exists = os.path.exists
        monkeypatch.setattr(sandbox.os.path, "exists", lambda p: not p.endswith("/children") and exists(p))
        assert sorted(tree_tasks(tree.pid)) == sorted(found)
    finally:
        for tid in tree_tasks(tree.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(tid, 9)
        tree.wait()


def test_a_spare_that_cannot_be_raised_is_not_used_and_later_spares_start_normally(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where raising a spare fails after all (a process of it that belongs to another user), the
    run starts a sandbox of its own at the normal priority, and no low-priority spare is made again."""
    found = isolation()
    spares = Spares(delay_s=0.1, low_priority=True)
    try:
        spares.refill(found, low_priority=True)
        spare = spares._ready
        assert spare is not None and spare.low_priority
        def refused(pid: int, renice: int | None = None) -> list[int]:
            raise PermissionError(f"process {pid} belongs to another user")

        monkeypatch.setattr(sandbox, "tree_tasks", refused)
        taken = spares.take(found)
        assert taken is not spare and not taken.low_priority and not spare.alive()
        taken.close()
        spares.release(found)
        fresh = _eventually(lambda: spares._ready, "no spare after the run")
        assert not fresh.low_priority
    finally:
        spares.close()
