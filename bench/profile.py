"""`python -m bench.profile [--seconds S] [--artifact] [--export]`: where the CPU of a plan (or artifact) round
trip goes, per process. Starts its own platform, drives sequential round trips, samples every
service with py-spy (`pip install py-spy`; profiling only) and prints the heaviest functions of
each, inclusive and self, as shares of that process's samples."""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .common import Api, bench_settings, scenario_texts
from .pipeline import Ctx, artifact, plan_once, warm_up


def top(raw: Path, n: int) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    incl: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        c = int(count)
        total += c
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        for f in set(frames):
            incl[f] += c
        if frames:
            self_[frames[-1]] += c
    return total, incl.most_common(n), self_.most_common(n)


async def drive(base: str, stop: threading.Event, do_artifact: bool) -> int:
    api = Api(base)
    ctx = Ctx(api=api, texts=scenario_texts())
    await warm_up(ctx)
    ready.set()
    done = 0
    try:
        while not stop.is_set():
            pid = await api.create_project("profile")
            g = await plan_once(api, pid, ctx.next_text())
            if do_artifact:
                ctx.gated.append(g)
                await artifact(ctx, 1)
            done += 1
    finally:
        await api.close()
    return done


ready = threading.Event()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--rate", type=int, default=100)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--artifact", action="store_true", help="approve each plan and follow it to run-complete")
    p.add_argument("--idle", action="store_true", help="wall clock: include waiting threads")
    p.add_argument("--export", action="store_true", help="export every span over OTLP/HTTP to a sink on loopback")
    p.add_argument("--raw", type=Path, help="keep py-spy's raw stacks (one file per process) in this folder")
    a = p.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    from amp_cli.stack import Stack

    tmp = Path(tempfile.mkdtemp(prefix="amp-profile-"))
    tmp.chmod(0o755)
    sink = None
    env: dict[str, str] = {"OTEL_TRACES_EXPORTER": "none"}
    if a.export:
        # lazy: the sink only when exporting
        from .tracing import HttpSink

        sink = HttpSink()
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint, "OTEL_TRACES_EXPORTER": "otlp"}
    stack = Stack(bench_settings(tmp / "data"), env=env).start()
    os.environ["AMP_TOKEN"] = stack.token("bench")  # the profiled user signs every request
    stop = threading.Event()
    result: dict[str, int] = {}
    t = threading.Thread(target=lambda: result.update(n=asyncio.run(drive(stack.gateway_url, stop, a.artifact))))
    try:
        t.start()
        ready.wait(300)
        spies = {}
        for name, proc in stack.procs.items():
            out = tmp / f"{name}.txt"
            cmd = [spy, "record", "--pid", str(proc.pid), "--duration", str(a.seconds), "--rate", str(a.rate),
                   "--format", "raw", "--output", str(out), "--nonblocking"] + (["--idle"] if a.idle else [])
            spies[name] = (subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out)
        for proc, _ in spies.values():
            proc.wait()
        stop.set()
        t.join()
        print(f"{result.get('n')} round trips in about {a.seconds} s")
        for name, (_, out) in spies.items():
            if not out.exists():
                continue
            total, incl, self_ = top(out, a.top)
            print(f"\n=== {name}: {total} samples")
            print("  inclusive:")
            for f, c in incl:
                print(f"   {100 * c / max(1, total):5.1f}%  {f[:150]}")
            print("  self:")
            for f, c in self_[: a.top // 2]:
                print(f"   {100 * c / max(1, total):5.1f}%  {f[:150]}")
        if a.raw is not None:
            a.raw.mkdir(parents=True, exist_ok=True)
            for _, out in spies.values():
                if out.exists():
                    shutil.copy(out, a.raw / out.name)
    finally:
        stop.set()
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if sink is not None:
            sink.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
