"""Parse every `.tf` file with python-hcl2, in-process: a file Terraform could not even read.

Parsing is cheap and needs no Terraform binary, so it catches syntax errors with a line number
even where `terraform fmt` or checkov are unavailable.
"""

from __future__ import annotations

from ..report import Finding, ToolResult
from .base import CheckContext, dist_version, skipped, status_for
from .hclparse import parse

TOOL = "hcl2"


def _parse_error(path: str, exc: Exception) -> Finding:
    line = getattr(exc, "line", None)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Finding(rule="hcl-parse-error", path=path, line=line if isinstance(line, int) and line > 0 else None,
                   message=f"{type(exc).__name__}: {first}"[:500])


def check_hcl(ctx: CheckContext) -> ToolResult:
    paths = ctx.sandbox.paths(".tf")
    if not paths:
        return skipped(TOOL, "no .tf files in the tree", dist_version("python-hcl2"))
    findings: list[Finding] = []
    for path in paths:
        try:
            parse(ctx.sandbox.files[path])  # shared: tf-interface and names read the same documents
        except Exception as exc:  # noqa: BLE001 - lark raises many error types; all mean "does not parse"
            findings.append(_parse_error(path, exc))
    return ToolResult(tool=TOOL, version=dist_version("python-hcl2"), status=status_for(findings), findings=findings)
