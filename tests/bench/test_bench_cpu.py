"""The bench's CPU readings count what a platform process ran: tools that have ended and tools
still running below it (the validators' warm workers), not only the process itself."""

from __future__ import annotations

import subprocess
import sys
import time
from types import SimpleNamespace

from bench.memory import cpu_times

BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"

#: A stand-in for a platform process: runs one tool to its end, then keeps another running.
PARENT = f"""
import subprocess, sys, time
subprocess.run([sys.executable, "-c", {BURN.format(s=0.4)!r}])
live = subprocess.Popen([sys.executable, "-c", {BURN.format(s=0.4)!r} + "time.sleep(60)"])
print("ready", flush=True)
time.sleep(60)
"""


def test_a_process_is_charged_with_the_tools_it_ran_and_the_ones_still_running() -> None:
    proc = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        stack = SimpleNamespace(procs={"validators-0": proc}, nats=None, postgres=None)
        before = cpu_times(stack)["validators-0"]
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # the running tool spends its 0.4 s
        spent = cpu_times(stack)["validators-0"] - before
        assert spent >= 0.7, spent  # the ended tool's 0.4 s and the running one's 0.4 s
    finally:
        subprocess.run(["pkill", "-P", str(proc.pid)], check=False)
        proc.kill()
        proc.wait()
