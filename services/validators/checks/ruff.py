"""ruff lint and format checks, using the generated repository's own ruff configuration."""

from __future__ import annotations

import json
import shutil
import sys
from functools import cache
from pathlib import Path

from ..report import Finding, ToolResult
from .base import CheckContext, diff_hunks, relpath, skipped, status_for

NO_PYTHON = "no Python files in the tree"


@cache
def ruff_bin() -> str:
    """The ruff binary installed with the `ruff` wheel, else one on PATH."""
    try:
        # lazy: only to locate the binary once (cached)
        from ruff.__main__ import find_ruff_bin

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        pass
    local = Path(sys.executable).parent / "ruff"
    return str(local) if local.exists() else (shutil.which("ruff") or "ruff")


@cache
def ruff_version() -> str:
    # lazy: only to locate the binary once (cached)
    import subprocess

    try:
        out = subprocess.run([ruff_bin(), "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip().removeprefix("ruff ").strip()


def check_lint(ctx: CheckContext) -> ToolResult:
    """`ruff check --output-format json`: one finding per diagnostic."""
    if not ctx.sandbox.paths(".py", ".pyi"):
        return skipped("ruff", NO_PYTHON, ruff_version())
    res = ctx.sandbox.run([ruff_bin(), "check", "--output-format", "json", "--no-cache", "--exit-zero", "."],
                          timeout_s=ctx.timeout_s, memory_mb=ctx.memory_mb)
    if res.timed_out:
        return ToolResult(tool="ruff", version=ruff_version(), status="error", reason="ruff check timed out")
    try:
        diagnostics = json.loads(res.stdout or "[]")
    except json.JSONDecodeError:
        return ToolResult(tool="ruff", version=ruff_version(), status="error",
                          reason=f"ruff check exited {res.returncode}: {res.stderr.strip()[:500]}")
    findings = [
        Finding(rule=d.get("code") or "ruff", path=relpath(ctx, d.get("filename", "")),
                line=(d.get("location") or {}).get("row") or None, message=d.get("message", ""), severity="error")
        for d in diagnostics
    ]
    return ToolResult(tool="ruff", version=ruff_version(), status=status_for(findings), findings=findings)


def check_format(ctx: CheckContext) -> ToolResult:
    """`ruff format --check --diff`: one finding per hunk that would be reformatted."""
    if not ctx.sandbox.paths(".py", ".pyi"):
        return skipped("ruff-format", NO_PYTHON, ruff_version())
    res = ctx.sandbox.run([ruff_bin(), "format", "--check", "--diff", "--no-cache", "."],
                          timeout_s=ctx.timeout_s, memory_mb=ctx.memory_mb)
    if res.timed_out:
        return ToolResult(tool="ruff-format", version=ruff_version(), status="error", reason="ruff format timed out")
    findings = [Finding(rule="format", path=path, line=line, message="file is not formatted as `ruff format` would")
                for path, line in diff_hunks(res.stdout)]
    # Exit 2 = files ruff could not parse; those are reported by the lint check too.
    for line in res.stderr.splitlines():
        if line.startswith("error: Failed to parse "):
            where, _, msg = line.removeprefix("error: Failed to parse ").partition(": ")
            path, _, rest = where.partition(":")
            lineno = rest.split(":")[0]
            findings.append(Finding(rule="format-parse-error", path=path, line=int(lineno) if lineno.isdigit() else None,
                                    message=msg or line))
    if res.returncode not in (0, 1) and not findings:
        return ToolResult(tool="ruff-format", version=ruff_version(), status="error",
                          reason=f"ruff format exited {res.returncode}: {res.stderr.strip()[:500]}")
    return ToolResult(tool="ruff-format", version=ruff_version(), status=status_for(findings), findings=findings)
