"""`validate_tree`: write a generated tree into a sandbox and run the checks on it.

Checks are independent (each reads the sandbox, none writes into the tree), so they run in a
small thread pool; the slow ones start first. The secret scan always runs, whatever `checks`
says, because a found secret must fail the run and `secrets_found` must be trustworthy.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from ..report import Finding, ToolResult, ValidationReport, overall_of
from ..sandbox import DEFAULT_MEMORY_MB, Sandbox
from . import (
    hcl,
    interface,
    kubernetes,
    names,
    pytest_run,
    ruff,
    secrets,
    shellcheck,
    terraform_fmt,
    terraform_validate,
    typecheck,
    workflows,
)
from .base import Check, CheckContext, errored, guarded
from .checkov import checkov_check

#: What the checks read at most: one file, and the whole tree. Larger files are not handed to any
#: tool (a parser's time grows with its input); the `input-limits` result names them and fails.
MAX_FILE_BYTES = 1 << 20
MAX_TREE_BYTES = 64 << 20
INPUT_LIMITS = "input-limits"


def within_limits(files: dict[str, str]) -> tuple[dict[str, str], ToolResult | None]:
    """The tree the checks may read, and a failing result naming what was left out (None if nothing)."""
    kept: dict[str, str] = {}
    findings: list[Finding] = []
    total = 0
    for path in sorted(files):
        size = len(files[path].encode("utf-8", "surrogatepass"))
        if size > MAX_FILE_BYTES:
            findings.append(Finding(rule="file-too-large", path=path,
                                    message=f"{size} bytes is over the {MAX_FILE_BYTES} byte limit; not checked"))
        elif total + size > MAX_TREE_BYTES:
            findings.append(Finding(rule="tree-too-large", path=path,
                                    message=f"the tree is over {MAX_TREE_BYTES} bytes; this file was not checked"))
        else:
            total += size
            kept[path] = files[path]
    if not findings:
        return files, None
    return kept, ToolResult(tool=INPUT_LIMITS, status="fail", findings=findings, isolation="none needed",
                            reason="files over the validators' input limits were not checked")

ALWAYS = ("detect-secrets",)
# Report order; also the default set.
CHECK_NAMES = ("ruff", "ruff-format", "hcl2", "terraform-fmt", "tf-interface", "terraform-validate", "checkov",
               "detect-secrets", "workflow-structure", "actionlint", "shellcheck", "names", "kubernetes", "pytest",
               "mypy")
# Started first because they take longest.
_SLOW_FIRST = ("terraform-validate", "pytest", "mypy", "checkov", "terraform-fmt", "ruff", "ruff-format")


def _registry(checkov_hard_fail: bool) -> dict[str, Check]:
    return {
        "ruff": ruff.check_lint,
        "ruff-format": ruff.check_format,
        "hcl2": hcl.check_hcl,
        "terraform-fmt": terraform_fmt.check_fmt,
        "tf-interface": interface.check_interface,
        "terraform-validate": terraform_validate.check_validate,
        "checkov": checkov_check(hard_fail=checkov_hard_fail),
        "detect-secrets": secrets.check_secrets,
        "workflow-structure": workflows.check_structure,
        "actionlint": workflows.check_actionlint,
        "shellcheck": shellcheck.check_shellcheck,
        "names": names.check_names,
        "kubernetes": kubernetes.check_manifests,
        "pytest": pytest_run.check_pytest,
        "mypy": typecheck.check_types,
    }


def selected_checks(checks: list[str] | None, *, checkov: bool, terraform: bool = False) -> list[str]:
    """The checks to run, in report order: the default set or the caller's, plus the mandatory ones."""
    wanted = list(CHECK_NAMES) if checks is None else list(checks)
    unknown = sorted(set(wanted) - set(CHECK_NAMES))
    if unknown:
        raise ValueError(f"unknown checks {unknown}; known: {list(CHECK_NAMES)}")
    if not checkov and "checkov" in wanted:
        wanted.remove("checkov")
    if not terraform and checks is None and "terraform-validate" in wanted:
        wanted.remove("terraform-validate")  # asked for by name, or by the service (terraform=True)
    chosen = set(wanted) | set(ALWAYS)
    return [name for name in CHECK_NAMES if name in chosen]


def validate_tree(files: dict[str, str], *, checks: list[str] | None = None, timeout_s: float = 120,
                  checkov: bool = True, checkov_hard_fail: bool = False, install_tools: bool = True,
                  terraform: bool = False,
                  memory_mb: int = DEFAULT_MEMORY_MB, max_workers: int = 4) -> ValidationReport:
    """Run the selected checks over `files` (path -> text) and compile the report.

    `timeout_s` bounds each tool invocation; `checkov=False` drops the checkov scan;
    `install_tools=False` never creates tool venvs (a missing one reports `skipped`); `terraform=True`
    adds `terraform init/validate/test` to the default set (tens of seconds with a large provider).
    """
    names = selected_checks(checks, checkov=checkov, terraform=terraform)
    registry = _registry(checkov_hard_fail)
    order = sorted(names, key=lambda n: _SLOW_FIRST.index(n) if n in _SLOW_FIRST else len(_SLOW_FIRST))
    files, limits = within_limits(files)
    # Each tool invocation has its own timeout; this bounds a check as a whole (in-process parsers
    # included), so a check stuck on pathological input is reported instead of hanging the run.
    budget = 3 * timeout_s + 30
    with Sandbox(files) as sandbox:
        ctx = CheckContext(sandbox=sandbox, timeout_s=timeout_s, memory_mb=memory_mb, install_tools=install_tools)
        pool = ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(order))), thread_name_prefix="amp-validate")
        try:
            futures = {name: pool.submit(guarded, name, registry[name], ctx) for name in order}
            deadline = time.monotonic() + budget
            results: dict[str, ToolResult] = {}
            for name, fut in futures.items():
                try:
                    results[name] = fut.result(timeout=max(0.0, deadline - time.monotonic()))
                except FutureTimeout:
                    results[name] = errored(name, f"did not finish within {budget:.0f} s", duration_ms=int(budget * 1000))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    tools = ([limits] if limits else []) + [results[name] for name in names]
    secrets_result = results.get("detect-secrets")
    secrets_found = bool(secrets_result and secrets_result.findings)
    return ValidationReport(tools=tools, overall=overall_of(tools, secrets_found), secrets_found=secrets_found)
