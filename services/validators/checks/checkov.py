"""checkov over the tree's Terraform, from its isolated tool venv (see toolenv).

checkov's findings are security best-practice advice about infrastructure the user has not yet
deployed, so by default they are reported as warnings (checkov's own `--soft-fail` idea) and do
not fail the run; `hard_fail=True` makes them errors. Files checkov could not parse are always
errors. With no tool env (no package index), the result is `skipped` with the reason.

Scans run in a warm checkov process (`checkov_worker`): a fraction of a second each instead of
the seconds a cold start costs; where that process cannot start, the CLI runs instead.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from amp_domain.paths import safe_relpath

from ..report import Finding, ToolResult
from ..toolenv import CHECKOV, ToolUnavailable, ensure_tool
from .base import Check, CheckContext, skipped, status_for
from .checkov_worker import WorkerGone, worker_for
from .verdicts import Verdicts, content_key, remembered

TOOL = "checkov"
TERRAFORM_FILES = (".tf", ".tfvars", ".tf.json")
#: Completed scans by the Terraform files they read (see `verdicts`).
VERDICTS = Verdicts()


def _reports(stdout: str) -> list[dict]:
    """checkov prints one object per framework, or a list of them."""
    data = json.loads(stdout)
    return data if isinstance(data, list) else [data]


def _findings(report: dict, hard_fail: bool) -> list[Finding]:
    results = report.get("results") or {}
    findings = []
    for item in results.get("failed_checks") or []:
        line_range = item.get("file_line_range") or [None]
        name = item.get("check_name") or ""
        resource = item.get("resource") or ""
        findings.append(Finding(
            rule=item.get("check_id") or "checkov", path=(item.get("file_path") or "").lstrip("/") or None,
            line=line_range[0] or None, message=f"{resource}: {name}" if resource else name,
            severity="error" if hard_fail else "warning",
        ))
    for path in results.get("parsing_errors") or []:
        findings.append(Finding(rule="checkov-parse-error", path=str(path).lstrip("/"), message="checkov could not parse"))
    return findings


def terraform_view(ctx: CheckContext) -> Path:
    """The tree's Terraform files alone, under the sandbox's home: what checkov is pointed at.

    checkov reads `.checkov.yaml` from the directory it scans (and the working directory), and
    that file can name directories of Python checks to load: pointed at the repository itself,
    checkov would run the repository's code. A copy of the Terraform files has no such file.
    """
    view = ctx.sandbox.home / "checkov-src"
    for path in ctx.sandbox.paths(*TERRAFORM_FILES):
        target = view / safe_relpath(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(ctx.sandbox.files[path], encoding="utf-8")
    return view


ARGV = ["-d", ".", "--framework", "terraform", "-o", "json", "--skip-download", "--quiet", "--compact"]


def _cold(ctx: CheckContext, exe: Path) -> tuple[int, str, str, bool]:
    """The checkov CLI, started for this one scan: (returncode, stdout, stderr, timed out)."""
    view = terraform_view(ctx)
    res = ctx.sandbox.run([str(exe), *ARGV], timeout_s=ctx.timeout_s, memory_mb=max(ctx.memory_mb, 3072),
                          cwd=view, readonly=[view])
    return res.returncode, res.stdout, res.stderr, res.timed_out


def check_checkov(ctx: CheckContext, *, hard_fail: bool = False, warm: bool = True) -> ToolResult:
    if not ctx.sandbox.paths(".tf"):
        return skipped(TOOL, "no .tf files in the tree", CHECKOV.version)
    try:
        exe = ensure_tool(CHECKOV, install=ctx.install_tools)
    except ToolUnavailable as exc:
        return skipped(TOOL, exc.reason, CHECKOV.version)
    view = {safe_relpath(p): ctx.sandbox.files[p] for p in ctx.sandbox.paths(*TERRAFORM_FILES)}
    key = content_key(f"{TOOL} {exe} {CHECKOV.version} {ARGV} hard_fail={hard_fail}", view)
    return remembered(VERDICTS, key, lambda: _scan(ctx, exe, view, hard_fail=hard_fail, warm=warm))


def _scan(ctx: CheckContext, exe: Path, view: dict[str, str], *, hard_fail: bool, warm: bool) -> ToolResult:
    isolation = ""
    if warm:
        try:
            scan = worker_for(exe).scan(view, ARGV, ctx.timeout_s)
            rc, stdout, stderr, timed_out, isolation = scan.returncode, scan.stdout, "", False, scan.isolation
        except WorkerGone as gone:
            if "in time" in str(gone):
                rc, stdout, stderr, timed_out = 2, "", "", True
            else:  # the warm process could not start here: the cold CLI does the same scan
                rc, stdout, stderr, timed_out = _cold(ctx, exe)
    else:
        rc, stdout, stderr, timed_out = _cold(ctx, exe)
    if timed_out:
        return ToolResult(tool=TOOL, version=CHECKOV.version, status="error", reason="checkov timed out")
    try:
        reports = _reports(stdout) if stdout.strip() else []
    except json.JSONDecodeError:
        return ToolResult(tool=TOOL, version=CHECKOV.version, status="error",
                          reason=f"checkov exited {rc}: {stderr.strip()[-500:]}")
    if rc not in (0, 1):
        return ToolResult(tool=TOOL, version=CHECKOV.version, status="error",
                          reason=f"checkov exited {rc}: {stderr.strip()[-500:]}")
    findings = [f for r in reports for f in _findings(r, hard_fail)]
    versions = [r.get("summary", {}).get("checkov_version") for r in reports]
    version = next((v for v in versions if v), CHECKOV.version)
    return ToolResult(tool=TOOL, version=version, status=status_for(findings), findings=findings, isolation=isolation)


def checkov_check(hard_fail: bool = False) -> Check:
    return partial(check_checkov, hard_fail=hard_fail)
