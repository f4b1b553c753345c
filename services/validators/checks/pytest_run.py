"""Run the generated service's own tests, after its training entry point if it has one.

The generated repository ships a tiny training script that writes the model artefact its
serving tests load, so `services/training/train.py` runs first. Both are code from the tree, so
they run only under bubblewrap (`Sandbox.run_untrusted`: one sandbox, the two steps in turn, the
tree copied to a tmpfs at /repo); where the host cannot isolate them the check is `skipped` with
the reason `no isolation`, never run bare. They use the validators' interpreter (whose venv,
mounted read-only, carries the libraries generated code may use), with /repo on PYTHONPATH. Plugin autoloading is off (the validators' venv carries test
plugins of its own, e.g. hypothesis, that cost seconds to import and the generated tests do not
use); only the plugins generated tests may rely on are loaded, where installed.

Generated repositories also have a top-level `services` package, like the platform. Where the
platform is installed in development mode its source roots sit on sys.path, and a generated tree
without `services/__init__.py` would silently import the platform's code instead of its own; a
small bootstrap drops those roots before running the entry point or pytest.
"""

from __future__ import annotations

import os
import re
import sys
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from ..isolation import NoIsolation
from ..report import Finding, ToolResult
from ..sandbox import Step
from .base import CheckContext, dist_version, skipped

TOOL = "pytest"
TRAIN_ENTRY = "services/training/train.py"
_FAILED = re.compile(r"^(?P<kind>FAILED|ERROR) (?P<node>\S+?)(?: - (?P<msg>.*))?$")
NO_TESTS_COLLECTED = 5
# Plugins generated tests may use (async tests), loaded explicitly since autoloading is off.
TEST_PLUGINS = ("pytest_asyncio.plugin", "anyio.pytest_plugin")


# argv: os.pathsep-joined roots to drop, "-m" module | "-f" file, then the target's own argv.
_BOOTSTRAP = """\
import os, runpy, sys
drop = set(filter(None, sys.argv[1].split(os.pathsep)))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) not in drop]
mode, target, rest = sys.argv[2], sys.argv[3], sys.argv[4:]
sys.argv = [target, *rest]
if mode == "-m":
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
    runpy.run_path(target, run_name="__main__")
"""


@cache
def platform_source_roots() -> tuple[str, ...]:
    """sys.path entries holding the platform's own source (development installs), not site-packages."""
    repo_root = Path(__file__).resolve().parents[3]
    if not (repo_root / "services" / "validators").is_dir():
        return ()
    roots = []
    for entry in sys.path:
        if not entry:
            continue
        path = Path(entry).resolve()
        if (path == repo_root or repo_root in path.parents) and "site-packages" not in path.parts \
                and not path.is_relative_to(Path(sys.prefix).resolve()):
            roots.append(str(path))
    return tuple(dict.fromkeys(roots))


def _python(mode: str, target: str, *args: str) -> list[str]:
    return [sys.executable, "-c", _BOOTSTRAP, os.pathsep.join(platform_source_roots()), mode, target,
            *args]


@cache
def _plugin_args() -> tuple[str, ...]:
    args: list[str] = []
    for plugin in TEST_PLUGINS:
        try:
            found = find_spec(plugin) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            args += ["-p", plugin]
    return tuple(args)


def _node_path(node: str) -> str:
    return node.split("::", 1)[0]


def check_pytest(ctx: CheckContext) -> ToolResult:
    version = dist_version("pytest")
    if not any("test" in p.rsplit("/", 1)[-1] for p in ctx.sandbox.paths(".py")):
        return skipped(TOOL, "no test modules in the tree", version)
    if find_spec("pytest") is None:
        return skipped(TOOL, "pytest is not installed in the validators' environment", version)
    steps = []
    if TRAIN_ENTRY in ctx.sandbox.files:
        steps.append(Step(_python("-f", TRAIN_ENTRY), timeout_s=ctx.timeout_s, stop_on_failure=True))
    steps.append(Step(_python("-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "--color=no", *_plugin_args()),
                      timeout_s=ctx.timeout_s, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "COLUMNS": "200"}))
    try:
        runs = ctx.sandbox.run_untrusted(steps, memory_mb=ctx.memory_mb)
    except NoIsolation as exc:
        return skipped(TOOL, f"no isolation: the generated code was not run ({exc.reason})", version)
    label = runs[0].isolation
    names = [TRAIN_ENTRY, "pytest"] if len(steps) > 1 else ["pytest"]
    stops = [Finding(rule="sandbox-stopped", path=TRAIN_ENTRY if name == TRAIN_ENTRY else None,
                     message=f"{name}: {what}", severity="warning")
             for name, run in zip(names, runs, strict=False) for what in run.stopped]
    if len(steps) > 1:
        train = runs[0]
        if train.timed_out or train.returncode != 0 or len(runs) == 1:
            why = "timed out" if train.timed_out else f"exited {train.returncode}"
            return ToolResult(tool=TOOL, version=version, status="fail", isolation=label, findings=[Finding(
                rule="training-entry-point", path=TRAIN_ENTRY, message=f"{TRAIN_ENTRY} {why}: {train.stderr.strip()[-500:]}",
            ), *stops])
    res = runs[-1]
    if res.timed_out:
        return ToolResult(tool=TOOL, version=version, status="fail", isolation=label, findings=[Finding(
            rule="pytest-timeout", message=f"the generated tests did not finish within {ctx.timeout_s:.0f}s"), *stops])
    if res.returncode == NO_TESTS_COLLECTED:
        return skipped(TOOL, "pytest collected no tests", version)
    findings = []
    for line in res.stdout.splitlines():
        if m := _FAILED.match(line.strip()):
            findings.append(Finding(rule="test-failed" if m["kind"] == "FAILED" else "test-error",
                                    path=_node_path(m["node"]), message=f"{m['node']}: {m['msg'] or m['kind']}"[:500]))
    findings += stops
    if res.returncode == 0:
        return ToolResult(tool=TOOL, version=version, status="pass", isolation=label, findings=findings)
    if res.returncode in (1, 2) and any(f.rule.startswith("test-") for f in findings):
        return ToolResult(tool=TOOL, version=version, status="fail", isolation=label, findings=findings)
    tail = (res.stdout.strip().splitlines() or [""])[-1]
    findings.append(Finding(rule="pytest-exit", message=f"pytest exited {res.returncode}: {tail or res.stderr[-300:]}"))
    return ToolResult(tool=TOOL, version=version, status="fail", isolation=label, findings=findings)
