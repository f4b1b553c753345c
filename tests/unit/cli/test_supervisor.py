"""`amp up`'s supervisor: a service that keeps exiting is restarted with a growing backoff, for ever."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from amp_cli.stack import Stack
from amp_runtime.settings import Settings


class ExitingStack(Stack):
    """Every process it starts exits at once (a gateway that dies before it is ready), unless `live`."""

    spawned: list[str]
    live = False

    def _spawn(self, name: str, argv: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        self.spawned.append(name)
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)" if self.live else "raise SystemExit(3)"])
        if not self.live:
            proc.wait()
        return proc


def test_a_service_that_keeps_exiting_is_restarted_with_backoff_and_never_given_up(tmp_path: Path) -> None:
    stack = ExitingStack(Settings(data_dir=tmp_path, gateway_port=1))
    stack.spawned = []
    stack.procs["gateway"] = stack._spawn("gateway", [])
    stack.procs["planner-0"] = stack._spawn("planner-0", [])
    stack.spawned.clear()
    now = 1000.0
    assert len(stack.supervise(now)) == 2  # both at once, without waiting for the gateway to be ready
    assert stack.supervise(now + 0.1) == []  # inside the backoff
    times = []
    t = now
    for _ in range(8):
        t += 0.05
        while not stack.supervise(t):
            t += 0.05
        times.append(t)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(b >= a - 0.1 for a, b in zip(gaps, gaps[1:], strict=False))  # the backoff grows
    assert max(gaps) <= Stack.MAX_BACKOFF_S + 0.2  # and is capped
    assert stack.spawned.count("gateway") >= 9  # still restarting: never given up


def test_a_service_that_stayed_up_is_restarted_at_once_after_its_next_crash(tmp_path: Path) -> None:
    stack = ExitingStack(Settings(data_dir=tmp_path, gateway_port=1))
    stack.spawned = []
    stack.procs["intake-0"] = stack._spawn("intake-0", [])
    t = 100.0
    for _ in range(4):  # crashes in a row build up a backoff
        t = stack.backoff.get("intake-0", (0, t, 0))[1]
        stack.supervise(t)
    assert stack.backoff["intake-0"][0] == 4
    stack.live = True
    t = stack.backoff["intake-0"][1]
    stack.supervise(t)  # restarted; this process stays up
    stack.supervise(t + Stack.STABLE_S + 1)  # seen running, long enough to count as recovered
    stack.procs["intake-0"].kill()
    stack.procs["intake-0"].wait()
    stack.live = False
    stack.supervise(t + Stack.STABLE_S + 2)
    restarts, not_before, started = stack.backoff["intake-0"]
    assert restarts == 1 and not_before - started == 0.5
