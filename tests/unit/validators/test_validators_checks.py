"""validate_tree over small hand-written trees: a clean one passes, each defect fails its check."""

from __future__ import annotations

import pytest

from services.validators.checks import CHECK_NAMES, validate_tree
from services.validators.report import ValidationReport
from tests.validator_trees import clean_tree, fresh_secret_scan

FAST = ["ruff", "ruff-format", "hcl2", "terraform-fmt", "workflow-structure"]


def tool(report: ValidationReport, name: str):
    result = report.tool(name)
    assert result is not None, f"{name} missing from {[t.tool for t in report.tools]}"
    return result


@pytest.fixture(scope="module")
def clean_report() -> ValidationReport:
    """The full default run (checkov and the generated tests included), once for the module."""
    return validate_tree(clean_tree())


def test_clean_tree_passes_every_check_that_can_run(clean_report: ValidationReport) -> None:
    # terraform-validate runs when the service asks for it (terraform=True) or by name.
    assert [t.tool for t in clean_report.tools] == [n for n in CHECK_NAMES if n != "terraform-validate"]
    for name in ("ruff", "ruff-format", "hcl2", "terraform-fmt", "detect-secrets", "workflow-structure", "pytest",
                 "mypy"):
        result = tool(clean_report, name)
        assert result.status == "pass", (name, result)
        assert result.version
    assert clean_report.overall == "pass"
    assert clean_report.secrets_found is False


def test_tool_env_checks_pass_or_say_why_they_were_skipped(clean_report: ValidationReport) -> None:
    checkov = tool(clean_report, "checkov")
    actionlint = tool(clean_report, "actionlint")
    for result in (checkov, actionlint):
        assert result.status in ("pass", "fail", "skipped"), result
        if result.status == "skipped":
            assert result.reason and len(result.reason) > 10
    if checkov.status != "skipped":
        # The bucket has no versioning/encryption: checkov reports it, as warnings by default.
        assert checkov.findings and {f.severity for f in checkov.findings} == {"warning"}
        assert all(f.path == "infra/main.tf" and f.line == 10 for f in checkov.findings)
        assert checkov.status == "pass"


@pytest.mark.slow
def test_checkov_hard_fail_turns_findings_into_errors() -> None:
    report = validate_tree(clean_tree(), checks=["checkov"], checkov_hard_fail=True)
    checkov = tool(report, "checkov")
    if checkov.status == "skipped":
        assert checkov.reason
    else:
        assert checkov.status == "fail" and report.overall == "fail"


def test_checkov_can_be_left_out() -> None:
    report = validate_tree(clean_tree(), checks=["hcl2", "checkov"], checkov=False)
    assert [t.tool for t in report.tools] == ["hcl2", "detect-secrets"]


@pytest.mark.parametrize("path,text,rule", [
    ("config/settings.py", 'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"\n', "AWS Access Key"),
    ("deploy/key.pem", ("-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX\n"
                        "-----END RSA PRIVATE KEY-----\n"), "Private Key"),
])
def test_a_secret_fails_the_run(path: str, text: str, rule: str) -> None:
    files = clean_tree() | {path: text}
    report = validate_tree(files, checks=["hcl2"])  # detect-secrets always runs
    secrets = tool(report, "detect-secrets")
    assert report.secrets_found is True
    assert report.overall == "fail"
    assert secrets.status == "fail"
    assert any(f.rule == rule and f.path == path and f.line == 1 for f in secrets.findings)
    assert all("AKIA" not in f.message for f in secrets.findings)  # never echo the secret


def test_badly_formatted_terraform_fails_fmt_but_parses() -> None:
    files = clean_tree()
    files["infra/main.tf"] = files["infra/main.tf"].replace('  bucket = "demo-ml-data"', '    bucket="demo-ml-data"')
    report = validate_tree(files, checks=["hcl2", "terraform-fmt"])
    fmt = tool(report, "terraform-fmt")
    assert fmt.status == "fail"
    assert [(f.path, f.rule) for f in fmt.findings] == [("infra/main.tf", "terraform-fmt")]
    assert fmt.findings[0].line is not None
    assert tool(report, "hcl2").status == "pass"
    assert report.overall == "fail"


def test_unparseable_terraform_fails_hcl_with_a_line() -> None:
    files = clean_tree() | {"infra/broken.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = \n}\n'}
    report = validate_tree(files, checks=["hcl2", "terraform-fmt"])
    hcl = tool(report, "hcl2")
    assert hcl.status == "fail"
    assert hcl.findings[0].path == "infra/broken.tf" and hcl.findings[0].line == 2
    assert tool(report, "terraform-fmt").status == "fail"


def test_python_lint_error_fails_ruff_using_the_tree_config() -> None:
    files = clean_tree() | {"services/serving/util.py": "import os\n\n\ndef f() -> int:\n    return 1\n"}
    report = validate_tree(files, checks=["ruff", "ruff-format"])
    ruff = tool(report, "ruff")
    assert ruff.status == "fail"
    assert [(f.rule, f.path, f.line) for f in ruff.findings] == [("F401", "services/serving/util.py", 1)]
    assert tool(report, "ruff-format").status == "pass"


def test_unformatted_python_fails_ruff_format() -> None:
    files = clean_tree() | {"services/serving/util.py": "def f( ) -> int :\n    return  1\n"}
    report = validate_tree(files, checks=["ruff-format"])
    fmt = tool(report, "ruff-format")
    assert fmt.status == "fail"
    assert fmt.findings[0].path == "services/serving/util.py" and fmt.findings[0].line == 1


def test_workflow_without_runs_on_or_steps_fails_structure() -> None:
    bad = "name: ci\non: push\njobs:\n  build:\n    steps: []\n"
    report = validate_tree(clean_tree() | {".github/workflows/ci.yml": bad}, checks=["workflow-structure"])
    result = tool(report, "workflow-structure")
    assert result.status == "fail"
    assert {f.rule for f in result.findings} == {"job-no-runs-on", "job-no-steps"}


def test_failing_generated_test_fails_pytest() -> None:
    files = clean_tree() | {"tests/test_more.py": "def test_wrong() -> None:\n    assert 1 + 1 == 3\n"}
    report = validate_tree(files, checks=["pytest"])
    result = tool(report, "pytest")
    assert result.status == "fail"
    assert [f.path for f in result.findings] == ["tests/test_more.py"]
    assert "test_wrong" in result.findings[0].message


def test_missing_training_artifact_makes_generated_tests_fail() -> None:
    files = clean_tree()
    files["services/training/train.py"] = "raise SystemExit(3)\n"
    result = tool(validate_tree(files, checks=["pytest"]), "pytest")
    assert result.status == "fail" and result.findings[0].rule == "training-entry-point"


def test_checks_without_inputs_are_skipped_with_a_reason() -> None:
    report = validate_tree({"README.md": "# x\n"}, checks=list(CHECK_NAMES))
    statuses = {t.tool: t.status for t in report.tools}
    assert statuses["detect-secrets"] == "pass"
    for name, status in statuses.items():
        if name != "detect-secrets":
            assert status == "skipped", name
            assert report.tool(name).reason
    assert report.overall == "pass"


def test_unknown_check_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown checks"):
        validate_tree({}, checks=["pyright"])


def test_a_crashing_check_reports_error_not_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.validators.checks import hcl

    def boom(_ctx):
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(hcl, "check_hcl", boom)
    report = validate_tree(clean_tree(), checks=["hcl2"])
    assert tool(report, "hcl2").status == "error"
    assert "parser exploded" in tool(report, "hcl2").reason
    assert report.overall == "error"


def test_generated_services_package_is_not_shadowed_by_the_platform() -> None:
    """A tree whose `services/` has no __init__.py must still import its own code, not the platform's."""
    files = {
        "services/demo/calc.py": "def double(x: int) -> int:\n    return 2 * x\n",
        "tests/test_calc.py": "from services.demo.calc import double\n\n\ndef test_double() -> None:\n"
                              "    assert double(2) == 4\n",
    }
    result = tool(validate_tree(files, checks=["pytest"]), "pytest")
    assert result.status == "pass", result


def test_checkov_never_loads_checks_named_by_the_repository(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A repository's .checkov.yaml can name Python checks to load; checkov is pointed at a copy of
    the Terraform files only, so they are never imported, sandbox or not."""
    from services.validators import isolation as iso
    from services.validators.toolenv import CHECKOV, is_ready

    if not is_ready(CHECKOV):
        pytest.skip("checkov's tool environment is not installed")
    marker = tmp_path / "checkov-loaded-repo-code"
    evil = f"open({str(marker)!r}, 'w').write('ran')\n"
    files = clean_tree() | {".checkov.yaml": "external-checks-dir:\n  - evil\n", "evil/__init__.py": evil,
                            "evil/check.py": evil, "infra/.checkov.yaml": "external-checks-dir:\n  - ../evil\n"}
    monkeypatch.setenv("AMP_SANDBOX", "none")  # the case where only this stands in the way
    iso.isolation.cache_clear()
    try:
        report = validate_tree(files, checks=["checkov"], install_tools=False)
    finally:
        monkeypatch.delenv("AMP_SANDBOX")
        iso.isolation.cache_clear()
    assert tool(report, "checkov").status in ("pass", "fail"), tool(report, "checkov")
    assert not marker.exists()


def test_remembered_secret_scans_equal_fresh_ones_and_a_changed_file_is_scanned_again(monkeypatch) -> None:
    from services.validators.checks import secrets  # noqa: PLC0415

    scanned: list[str] = []
    real = secrets._scan_file
    monkeypatch.setattr(secrets, "_scan_file", lambda root, f: scanned.append(f) or real(root, f))
    secrets.clear_cache()
    key = 'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"\n'
    files = clean_tree() | {"config/settings.py": key + "password = 'hunter2-but-longer-Zx9'\n" + key,
                            "config/copy.py": key, "deploy/app.env": "API_TOKEN=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB\n"}

    def findings(tree: dict[str, str]) -> list[tuple[str, int | None, str]]:
        result = tool(validate_tree(tree, checks=["hcl2"]), "detect-secrets")
        return sorted((f.path, f.line, f.rule) for f in result.findings)

    expected = fresh_secret_scan(files)
    assert len({p for p, _, _ in expected}) == 3
    scanned.clear()
    assert findings(files) == expected
    assert sorted(scanned) == sorted(files)
    scanned.clear()
    assert findings(files) == expected and scanned == []  # every file remembered
    changed = files | {"config/copy.py": "nothing = 'here'\n", "config/moved.py": key}
    expected_changed = fresh_secret_scan(changed)
    scanned.clear()
    assert findings(changed) == expected_changed
    assert sorted(scanned) == ["config/copy.py", "config/moved.py"]  # same content at a new path is scanned too
