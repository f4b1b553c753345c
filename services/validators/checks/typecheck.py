"""mypy over the generated Python, against the libraries the repository's tests run with.

mypy reads and analyses files; it runs nothing of the tree, except what a configuration file
names as a plugin. The tree's own configuration (pyproject.toml, mypy.ini, setup.cfg) is
untrusted, so it is never read: the options are ours, on the command line, and the
configuration file is an empty one of the sandbox. `--python-executable` is the validators'
interpreter, whose installed libraries (FastAPI, Pydantic, ...) are those the generated tests
import, so their types are checked for real rather than assumed `Any`.

mypy's cache of those libraries makes a run take a fifth of a second of CPU instead of three or
more. It lives under the tool cache in numbered slots, one run at a time per slot (mypy's cache is
not safe for concurrent writers): a run takes the first slot no other run holds, with an fcntl lock
that ends with the run or its process, so later runs, threads and validators processes reuse the
warm slots. (A cache per pool thread was cold on most runs, as each run's pool has new threads.)
Losing a slot costs time only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from ..report import Finding, ToolResult
from ..toolenv import MYPY, ToolUnavailable, ensure_tool, tools_root
from .base import CheckContext, skipped, status_for
from .verdicts import Verdicts, content_key, remembered

TOOL = "mypy"
#: Source roots of the generated repository that hold its Python (tests included).
ROOTS = ("services", "pipelines", "features")
MEMORY_MB = 3072
FLAGS = ("--ignore-missing-imports", "--check-untyped-defs", "--no-error-summary", "--show-column-numbers",
         "--no-color-output", "--explicit-package-bases")
#: Verdicts by the tree's Python (see `verdicts`).
VERDICTS = Verdicts()
_LINE = re.compile(r"^(?P<path>[^:\n]+\.pyi?):(?P<line>\d+):(?:\d+:)? (?P<sev>error|note): (?P<msg>.*?)"
                   r"(?:  \[(?P<code>[a-z0-9-]+)\])?$")


@cache
def _prune(root: Path) -> None:
    """Per-process caches (`<pid>-<thread>`, the layout before slots) of processes that have ended are removed."""
    for child in root.glob("*-*") if root.is_dir() else ():
        pid = child.name.split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(child, ignore_errors=True)


@contextlib.contextmanager
def cache_slot(root: Path | None = None) -> Iterator[Path]:
    """A cache directory no other run uses until this one ends: the first free slot, or a new one."""
    root = root or tools_root() / "mypy-cache"
    _prune(root)
    root.mkdir(parents=True, exist_ok=True)
    n = 0
    while True:
        lock = open(root / f"slot-{n}.lock", "a")  # noqa: SIM115 - held open for the run (the lock lives with it)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            n += 1
            continue
        try:
            path = root / f"slot-{n}"
            path.mkdir(exist_ok=True)
            yield path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
        return


def _sources(files: dict[str, str]) -> dict[str, str]:
    """What mypy can read of the tree: every Python file and stub (an import may lead outside the
    roots), the `py.typed` markers, and which directories exist (any of them can be imported as a
    namespace package, whatever files it holds)."""
    sources = {p: t for p, t in files.items() if p.endswith((".py", ".pyi")) or p.rsplit("/", 1)[-1] == "py.typed"}
    dirs = {p.rsplit("/", 1)[0] for p in files if "/" in p}
    sources["\0directories"] = "\n".join(sorted(dirs))  # not a path a tree can hold
    return sources


def check_types(ctx: CheckContext) -> ToolResult:
    roots = [r for r in ROOTS if any(p.startswith(f"{r}/") and p.endswith(".py") for p in ctx.sandbox.files)]
    if not roots:
        return skipped(TOOL, "no Python packages (services/, pipelines/, features/) in the tree", MYPY.version)
    try:
        exe = ensure_tool(MYPY, install=ctx.install_tools)
    except ToolUnavailable as exc:
        return skipped(TOOL, exc.reason, MYPY.version)
    # The libraries it checks against are those of this interpreter, which a process keeps.
    key = content_key(f"{TOOL} {exe} {MYPY.version} {sys.executable} {FLAGS} {roots}", _sources(ctx.sandbox.files))
    return remembered(VERDICTS, key, lambda: _run(ctx, exe, roots))


def _run(ctx: CheckContext, exe: Path, roots: list[str]) -> ToolResult:
    empty = ctx.sandbox.home / "mypy.ini"
    empty.write_text("[mypy]\n")
    with cache_slot() as cache:
        res = ctx.sandbox.run(
            [str(exe), "--config-file", str(empty), "--python-executable", sys.executable, "--cache-dir", str(cache),
             *FLAGS, *roots],
            timeout_s=ctx.timeout_s, memory_mb=MEMORY_MB, writable=[cache])
    if res.timed_out:
        return ToolResult(tool=TOOL, version=MYPY.version, status="error", reason="mypy timed out")
    findings = []
    for line in res.stdout.splitlines():
        m = _LINE.match(line.strip())
        if m and m["sev"] == "error":
            findings.append(Finding(rule=m["code"] or "mypy", path=m["path"], line=int(m["line"]), message=m["msg"]))
    if res.returncode not in (0, 1) or (res.returncode == 1 and not findings):
        return ToolResult(tool=TOOL, version=MYPY.version, status="error",
                          reason=f"mypy exited {res.returncode}: {(res.stderr or res.stdout).strip()[-500:]}")
    return ToolResult(tool=TOOL, version=MYPY.version, status=status_for(findings), findings=findings)
