"""Resident memory of the whole platform, read from /proc: every service process, nats-server and
Postgres (postmaster and its backends). RSS counts Postgres' shared buffers once per backend, so
PSS (proportional set size) is recorded too."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _children_by_parent() -> dict[int, list[int]]:
    """parent pid -> its children's pids, for every process (one pass over /proc)."""
    kids: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(p.name))
    return kids


def _descendants(pids: list[int], kids: dict[int, list[int]] | None = None) -> list[int]:
    """Every process below these (`kids`: a `_children_by_parent()` already read, else one pass over /proc)."""
    kids = _children_by_parent() if kids is None else kids
    out, frontier = [], list(pids)
    while frontier:
        below = kids.get(frontier.pop(), [])
        out += below
        frontier += below
    return out


def stack_pids(stack: Any, kids: dict[int, list[int]] | None = None) -> dict[str, list[int]]:
    """name → pids of every process of `amp up` (`kids`: a `_children_by_parent()` already read)."""
    out = {name: [proc.pid] for name, proc in stack.procs.items()}
    if stack.nats is not None and stack.nats.proc is not None:
        out["nats-server"] = [stack.nats.proc.pid]
    if stack.postgres is not None:
        pidfile = stack.postgres.pgdata / "postmaster.pid"
        try:
            master = int(pidfile.read_text().split()[0])
            out["postgres"] = [master, *(_children_by_parent() if kids is None else kids).get(master, [])]
        except (OSError, ValueError, IndexError):
            pass
    return out


def snapshot(stack: Any) -> dict[str, Any]:
    procs: dict[str, Any] = {}
    for name, pids in stack_pids(stack).items():
        st = [_status(p) for p in pids]
        procs[name] = {"rss": sum(s.get("VmRSS", 0) for s in st), "hwm": sum(s.get("VmHWM", 0) for s in st),
                       "pss": sum(_pss(p) for p in pids), "processes": len(pids)}
    total = {k: sum(p[k] for p in procs.values()) for k in ("rss", "pss", "hwm")}
    tools = _descendants([proc.pid for proc in stack.procs.values()])
    st = [_status(p) for p in tools]
    return {"processes": procs, "total": total,
            # not in the total: the validators' tool processes (warm checkov, warm Terraform providers,
            # sandboxes), started by the first validation of a process
            "tool_processes": {"rss": sum(s.get("VmRSS", 0) for s in st), "pss": sum(_pss(p) for p in tools),
                               "processes": len(tools)}}


class Sampler:
    """The peak of the whole platform's summed RSS and PSS, sampled in the background."""

    def __init__(self, stack: Any, every_s: float = 0.5) -> None:
        self.stack, self.every_s = stack, every_s
        self.peak_rss = self.peak_pss = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                tot = snapshot(self.stack)["total"]
                self.peak_rss = max(self.peak_rss, tot["rss"])
                self.peak_pss = max(self.peak_pss, tot["pss"])
            except Exception:  # noqa: BLE001 - a process may be exiting
                pass
            self._stop.wait(self.every_s)

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._t.join(5)
        return {"peak_total_rss": self.peak_rss, "peak_total_pss": self.peak_pss}


def settle(seconds: float) -> None:
    time.sleep(seconds)


def quiet(stack: Any, below: float = 0.1, window_s: float = 0.5, timeout_s: float = 60.0) -> float:
    """Wait until the platform (its processes and theirs) uses less than `below` of one core over a
    window, so that what the warm-up set going in the background (deliveries, outbox marks, a
    tool's start) is done before anything is measured. Returns the seconds waited."""
    def used() -> float:
        return sum(cpu_times(stack).values())

    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        before = used()
        time.sleep(window_s)
        if used() - before < below * window_s:
            break
    return round(time.monotonic() - began, 1)


def _cpu_s(pid: int) -> float:
    """The process's CPU seconds and those of its children it has waited for (utime, stime, cutime,
    cstime): a tool run that has ended counts in its parent's figure, as `time` would count it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def machine_cpu_s() -> float:
    """CPU seconds the whole machine has spent (every process, ours and the tools')."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle and iowait


def cpu_times(stack: Any) -> dict[str, float]:
    """CPU seconds used so far by each part of the platform (Postgres: all its processes), with
    every process it started: those still running (the validators' warm checkov and providers, the
    next run's sandbox) and those that have ended (each tool run, in its parent's children's times).
    A process run under bubblewrap is reaped inside its PID namespace and its time reaches no one
    here: `machine_cpu_s` counts it."""
    kids = _children_by_parent()
    out = {}
    for name, pids in stack_pids(stack, kids).items():
        listed = set(pids)
        out[name] = sum(_cpu_s(p) for p in [*pids, *(p for p in _descendants(pids, kids) if p not in listed)])
    return out


def cpu_delta(before: dict[str, float], after: dict[str, float], per: int) -> dict[str, Any]:
    """CPU milliseconds per unit of work, by process, between two `cpu_times` readings."""
    d = {k: (after.get(k, 0.0) - v) * 1000 / max(1, per) for k, v in before.items()}
    return {"total_ms": round(sum(d.values()), 1), "by_process_ms": {k: round(v, 1) for k, v in
                                                                       sorted(d.items(), key=lambda kv: -kv[1])}}


def cpu_reading(stack: Any) -> tuple[dict[str, float], float]:
    """`cpu_times` and the whole machine's CPU seconds, read together."""
    return cpu_times(stack), machine_cpu_s()


def cpu_spent(before: tuple[dict[str, float], float], stack: Any, per: int) -> dict[str, Any]:
    """`cpu_delta` since a `cpu_reading`, with the whole machine's CPU milliseconds per unit of
    work (`machine_ms`: what the by-process figures cannot see, tools run under bubblewrap)."""
    times, machine = before
    return {**cpu_delta(times, cpu_times(stack), per),
            "machine_ms": round((machine_cpu_s() - machine) * 1000 / max(1, per), 1)}
