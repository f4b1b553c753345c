"""What the validators' sandbox adds: one untrusted run and one static-tool run, sandboxed vs bare.

    python -m bench.sandbox [--runs 30]

The untrusted run is what the pytest check does once per validation (bubblewrap, the pids
cgroup, the in-sandbox supervisor, the copy of the tree into its tmpfs, the clean-up), measured
around a step that itself does nothing (`python -S -c pass`) on a tree of the generated
repository's size; the bare baseline runs the same step as a plain subprocess. The static-tool
run is `Sandbox.run` (bubblewrap with the tree read-only, or limits only) against the same
command run bare. Medians and p95 in milliseconds; the machine's load average is printed with
them, since on a shared machine it moves every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from .common import summary


def measure(runs: int) -> dict[str, Any]:
    # lazy: the validators are only needed by this section
    from services.validators.isolation import isolation
    from services.validators.sandbox import Sandbox, Step

    files = {f"services/pkg{i // 10}/m{i}.py": "x = 1\n" * 40 for i in range(95)}  # a generated repository's size
    step = [sys.executable, "-S", "-c", "pass"]
    bare, untrusted, static = [], [], []
    with Sandbox(files) as sb:
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(step, cwd=sb.root, check=True)
            bare.append((time.perf_counter() - t) * 1000)
            if isolation().available:
                t = time.perf_counter()
                (r,) = sb.run_untrusted([Step(step, timeout_s=60)])
                untrusted.append((time.perf_counter() - t) * 1000)
                assert r.returncode == 0, r
            t = time.perf_counter()
            r2 = sb.run(step, timeout_s=60)
            static.append((time.perf_counter() - t) * 1000)
            assert r2.returncode == 0, r2
    b, u, s = summary(bare), summary(untrusted) if untrusted else None, summary(static)
    return {"runs": runs, "isolation": isolation().label, "load_average": os.getloadavg(),
            "bare_ms": b, "untrusted_run_ms": u, "static_tool_run_ms": s,
            "added_per_untrusted_run_ms": round(u["p50"] - b["p50"], 1) if u else None,
            "added_per_static_run_ms": round(s["p50"] - b["p50"], 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sandbox", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    print(json.dumps(measure(p.parse_args(argv).runs), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
