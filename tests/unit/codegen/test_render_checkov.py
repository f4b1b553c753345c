"""Every shared scenario's generated repository passes checkov, actionlint and shellcheck.

Each scenario's text goes through the real chain (extract -> plan -> critique -> estimate ->
policy) and is rendered once for its own cloud and once forced onto each other cloud, so every
cloud's templates meet the scenario mix. checkov runs with hard failures: a check the generated
code deliberately does not satisfy must carry an inline `checkov:skip=<id>:<reason>`, and the
reasons are the audit trail, so each must say why in a few words.

The tools live in isolated venvs (services.validators.toolenv). Where one cannot be installed
(no package index), its test is skipped with the installer's reason; otherwise it passes or
fails on the findings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from amp_domain.requirements.extraction import extract

from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.critics.tech import critique
from services.planner.planning import compose_plan
from services.policy.engine import evaluate
from services.validators.checks import validate_tree
from services.validators.toolenv import ACTIONLINT, CHECKOV, SHELLCHECK, ToolUnavailable, ensure_tool
from tests.evaldata import scenarios

pytestmark = pytest.mark.slow  # checkov, actionlint and shellcheck over every scenario × cloud

TEMPLATES = Path(__file__).resolve().parents[3] / "services" / "codegen" / "templates"
CLOUDS = ("aws", "gcp", "azure")
#: Region used when a scenario is forced onto a cloud it did not ask for.
FORCED_REGION = {"aws": ["eu-west-1"], "gcp": ["europe-west4"], "azure": ["westeurope"]}
SKIP_COMMENT = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")
MIN_REASON_WORDS = 5


def _scenarios() -> list[dict]:
    return scenarios()


@pytest.fixture(scope="module")
def trees() -> dict[str, dict[str, str]]:
    """`<scenario>__<cloud>` -> the rendered repository, for every scenario and every cloud."""
    out: dict[str, dict[str, str]] = {}
    for scenario in _scenarios():
        stated = extract(scenario["text"]).constraints
        for cloud in CLOUDS:
            constraints = stated if stated.cloud == cloud else stated.model_copy(
                update={"cloud": cloud, "regions": FORCED_REGION[cloud]})
            plan = compose_plan(constraints)
            cost = estimate(plan, constraints)
            policy = evaluate(constraints, plan, cost)
            out[f"{scenario['id']}__{cloud}"] = render_repository(
                plan, constraints, cost, policy, critique(plan, constraints), [], scenario["id"])
    return out


def _tool_or_skip(spec) -> None:
    try:
        ensure_tool(spec)
    except ToolUnavailable as exc:
        pytest.skip(f"{spec.name} tool env unavailable: {exc.reason}")


def test_every_scenario_is_rendered_for_every_cloud(trees):
    assert len(trees) == len(_scenarios()) * len(CLOUDS)
    for name, files in trees.items():
        assert files["infra/main.tf"].strip(), name
        assert ".github/workflows/ci.yml" in files and ".github/workflows/deploy.yml" in files, name


@pytest.mark.timeout(1800)  # one scan of every tree's two stacks; minutes on a loaded two-core machine
def test_checkov_reports_no_failed_check(trees):
    _tool_or_skip(CHECKOV)
    # One scan over all trees side by side (each under its own folder) keeps this to one
    # checkov start; module sources are relative, so every tree still resolves on its own.
    combined = {f"{name}/{path}": text for name, files in trees.items()
                for path, text in files.items() if path.startswith("infra/")}
    report = validate_tree(combined, checks=["checkov"], checkov_hard_fail=True, timeout_s=600)
    result = report.tool("checkov")
    assert result is not None
    if result.status == "skipped":
        pytest.skip(f"checkov skipped: {result.reason}")
    failed = sorted(f"{f.rule} {f.path}:{f.line} {f.message}" for f in result.findings)
    assert result.status == "pass" and not failed, f"{len(failed)} checkov finding(s):\n" + "\n".join(failed)


def test_actionlint_and_shellcheck_report_no_finding(trees):
    _tool_or_skip(ACTIONLINT)
    _tool_or_skip(SHELLCHECK)
    problems = []
    for name, files in trees.items():
        workflows = {p: t for p, t in files.items() if p.startswith(".github/workflows/")}
        report = validate_tree(workflows, checks=["actionlint", "shellcheck"])
        for tool in ("actionlint", "shellcheck"):
            result = report.tool(tool)
            assert result is not None and result.status in ("pass", "fail"), (name, tool, result)
            problems += [f"{name}: {f.path}:{f.line} {f.message} [{f.rule}]" for f in result.findings]
    assert not problems, f"{len(problems)} actionlint or shellcheck finding(s):\n" + "\n".join(problems)


def _skips(text: str) -> list[tuple[str, str]]:
    return [(m[1], (m[2] or "").strip()) for m in SKIP_COMMENT.finditer(text)]


def test_every_checkov_skip_gives_a_reason(trees):
    sources = {f"templates/{p.relative_to(TEMPLATES)}": p.read_text() for p in TEMPLATES.rglob("*.tf")}
    sources.update({f"{name}/{path}": text for name, files in trees.items()
                    for path, text in files.items() if path.endswith(".tf")})
    seen = 0
    for where, text in sources.items():
        for check_id, reason in _skips(text):
            seen += 1
            assert re.fullmatch(r"CKV2?_[A-Z]+_\d+", check_id), f"{where}: malformed check id {check_id!r}"
            assert len(reason.split()) >= MIN_REASON_WORDS, f"{where}: skip of {check_id} needs a reason: {reason!r}"
    assert seen, "expected the templates to record their deliberate checkov skips"


def test_skip_reasons_are_checked_for_what_they_say():
    assert _skips("# checkov:skip=CKV_AWS_18:This is the log bucket itself; logging it would recurse.") == [
        ("CKV_AWS_18", "This is the log bucket itself; logging it would recurse.")]
    assert _skips("# checkov:skip=CKV_AWS_18") == [("CKV_AWS_18", "")]
