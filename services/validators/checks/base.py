"""What every check receives and returns, and the guard that turns crashes into `error`.

A check must never report a pass it did not earn: an exception inside a check becomes status
`error` with the exception as the reason, and a tool that cannot run becomes `skipped` with a
reason. Either way the report says so.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

import yaml

from ..report import Finding, ToolResult
from ..sandbox import DEFAULT_MEMORY_MB, Sandbox

#: libyaml's safe loader where PyYAML was built with it: the same documents, a tenth of the CPU.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: How parsers that read the tree inside the validators' own process are labelled (nothing is executed).
IN_PROCESS = "in-process parser (reads files only; size-limited, nothing executed)"


@dataclass(frozen=True)
class CheckContext:
    sandbox: Sandbox
    timeout_s: float = 120.0
    memory_mb: int = DEFAULT_MEMORY_MB
    install_tools: bool = True


Check = Callable[[CheckContext], ToolResult]


def dist_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


def relpath(ctx: CheckContext, filename: str) -> str:
    """A tool's absolute filename back to the tree's relative path."""
    root = str(ctx.sandbox.root)
    if filename.startswith(root):
        return filename[len(root):].lstrip("/")
    return filename.removeprefix("./")


def status_for(findings: list[Finding]) -> str:
    """Only error-level findings fail a tool; warnings and notes are reported, not fatal."""
    return "fail" if any(f.severity == "error" for f in findings) else "pass"


def skipped(tool: str, reason: str, version: str = "") -> ToolResult:
    return ToolResult(tool=tool, version=version, status="skipped", reason=reason)


def errored(tool: str, reason: str, version: str = "", duration_ms: int = 0) -> ToolResult:
    return ToolResult(tool=tool, version=version, status="error", reason=reason, duration_ms=duration_ms)


def guarded(tool: str, check: Check, ctx: CheckContext) -> ToolResult:
    """Run one check, timing it, and convert any exception into an `error` result."""
    started = time.monotonic()
    ctx.sandbox.take_isolation()
    try:
        result = check(ctx)
    except Exception as exc:  # noqa: BLE001 - a broken check must show up, not crash the run
        return errored(tool, f"{type(exc).__name__}: {exc}", duration_ms=int((time.monotonic() - started) * 1000))
    if not result.duration_ms:
        result.duration_ms = int((time.monotonic() - started) * 1000)
    ran_under = ctx.sandbox.take_isolation()
    if not result.isolation and result.status != "skipped":
        result.isolation = ran_under or IN_PROCESS
    return result


_HUNK = re.compile(r"^@@ -(\d+)")


def diff_hunks(diff: str, path_prefixes: tuple[str, ...] = ("--- ",)) -> list[tuple[str, int]]:
    """(path, first old line) per hunk of a unified diff; `a/`, `old/` prefixes are stripped."""
    hunks: list[tuple[str, int]] = []
    current: str | None = None
    for line in diff.splitlines():
        if line.startswith(path_prefixes):
            name = line[4:].split("\t")[0].strip()
            for prefix in ("old/", "a/"):
                name = name.removeprefix(prefix)
            current = name
        elif current and (m := _HUNK.match(line)):
            hunks.append((current, max(1, int(m.group(1)))))
    return hunks
