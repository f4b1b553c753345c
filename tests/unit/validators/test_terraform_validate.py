"""terraform init/validate/test over generated repositories, offline: passes, fails when it should, or says why not.

Runs where the Terraform CLI and the AWS provider are in a local filesystem mirror (AMP_TF_PLUGIN_MIRROR,
default /opt/tf-plugins); elsewhere the check must report `skipped` with the reason, which is asserted too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from amp_domain.requirements.extraction import extract

from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.validators.checks import validate_tree
from services.validators.checks.terraform_validate import DEFAULT_MIRROR, VERDICTS, terraform_binary
from tests.evaldata import scenarios

pytestmark = pytest.mark.slow  # terraform test plans every module with a 700 MB provider

CHECK = ["terraform-validate"]


def _files(scenario_id: str, cloud: str | None = None) -> dict[str, str]:
    scenario = next(s for s in scenarios() if s["id"] == scenario_id)
    constraints = extract(scenario["text"]).constraints
    if cloud and cloud != constraints.cloud:
        constraints = constraints.model_copy(update={"cloud": cloud, "regions": []})
    plan = compose_plan(constraints)
    return render_repository(plan, constraints, estimate(plan, constraints), None, [], [], scenario_id)


def _result(files: dict[str, str]):
    VERDICTS.clear()  # each call runs Terraform (the reuse of verdicts has its own test)
    return validate_tree(files, checks=CHECK, checkov=False, timeout_s=600).tool("terraform-validate")


def _available(files: dict[str, str]) -> bool:
    result = _result(files)
    if result.status == "skipped":
        assert result.reason, "a skipped check must say why"
        return False
    return True


@pytest.mark.parametrize("scenario_id", ["fraud-eu-pci", "two-region-ha", "reuse-existing-stack"])
def test_aws_scenarios_validate_and_their_plan_tests_pass(scenario_id):
    files = _files(scenario_id)
    result = _result(files)
    if result.status == "skipped":
        pytest.skip(result.reason)
    assert result.status == "pass", [f.message for f in result.findings]
    assert "serving_online_matches_plan" in files["infra/tests/plan.tftest.hcl"]


def test_a_module_that_rewires_a_planned_value_fails_its_plan_test():
    files = _files("fraud-eu-pci")
    if not _available(files):
        pytest.skip("terraform or the AWS provider is not available offline")
    main = files["infra/modules/serving_online/main.tf"]
    files["infra/modules/serving_online/main.tf"] = main.replace("desired_count                     = var.tasks",
                                                                 "desired_count                     = var.max_tasks")
    assert files["infra/modules/serving_online/main.tf"] != main
    result = _result(files)
    assert result.status == "fail"
    assert any(f.rule == "terraform-test" and "serving_online_matches_plan" in f.message for f in result.findings)


def test_an_invalid_configuration_fails_validate():
    files = _files("fraud-eu-pci")
    if not _available(files):
        pytest.skip("terraform or the AWS provider is not available offline")
    files["infra/modules/storage/main.tf"] += '\nresource "aws_s3_bucket" "bad" {\n  no_such_argument = true\n}\n'
    result = _result(files)
    assert result.status == "fail" and any(f.rule == "terraform-validate" for f in result.findings)


def test_a_provider_not_available_offline_is_skipped_with_the_reason(monkeypatch, tmp_path):
    files = _files("churn-batch-gcp")
    monkeypatch.setenv("AMP_TF_PLUGIN_MIRROR", str(tmp_path))
    monkeypatch.setenv("AMP_TF_PROVIDER_SCHEMAS", str(tmp_path / "no-schemas"))  # nor its schema
    result = _result(files)
    if terraform_binary() is None:
        assert result.status == "skipped" and "not installed" in (result.reason or "")
    else:
        assert result.status == "skipped" and "hashicorp/google" in (result.reason or "")


def test_a_module_needing_a_provider_outside_the_mirror_is_skipped_not_fetched():
    """A provider implied by a resource type (no required_providers entry) would make init reach the
    registry; the check names it and skips instead."""
    files = _files("fraud-eu-pci")
    files["infra/modules/storage/main.tf"] += '\nresource "random_id" "suffix" {\n  byte_length = 4\n}\n'
    result = _result(files)
    if terraform_binary() is None:
        assert result.status == "skipped" and "not installed" in (result.reason or "")
    else:
        assert result.status == "skipped" and "hashicorp/random" in (result.reason or "")
        if (Path(os.environ.get("AMP_TF_PLUGIN_MIRROR", DEFAULT_MIRROR)) / "registry.terraform.io/hashicorp/aws").is_dir():
            assert "hashicorp/aws" not in (result.reason or "")


def test_the_providers_init_would_install_are_read_from_every_module():
    from services.validators.checks.terraform_validate import _required_providers  # noqa: PLC0415

    files = {"infra/versions.tf": 'terraform {\n  required_providers {\n    aws = {\n      source = "hashicorp/aws"\n'
                                  '    }\n  }\n}\n',
             "infra/modules/x/main.tf": 'resource "aws_s3_bucket" "a" {}\nresource "terraform_data" "t" {}\n'
                                        '# resource "tls_private_key" "commented" {}\ndata "archive_file" "z" {}\n',
             "infra/bootstrap/main.tf": 'resource "github_repository" "r" {}\n'}
    assert _required_providers(files) == [("hashicorp", "aws"), ("hashicorp", "archive")]
    assert _required_providers(files, "infra/bootstrap/") == [("hashicorp", "github")]


def test_terraform_fmt_running_alongside_leaves_init_its_mirror_config(monkeypatch):
    """The checks run in parallel in one sandbox: terraform-fmt writing its (empty) CLI config while
    terraform-validate starts init must not make init fall back to the public registry."""
    from services.validators.checks import terraform_validate  # noqa: PLC0415
    from services.validators.checks.base import CheckContext  # noqa: PLC0415
    from services.validators.checks.terraform_fmt import check_fmt  # noqa: PLC0415
    from services.validators.sandbox import RunResult, Sandbox  # noqa: PLC0415

    files = _files("fraud-eu-pci")
    if not _available(files):
        pytest.skip("terraform or the AWS provider is not available offline")
    seen: list[str] = []
    with Sandbox(files) as sandbox:
        ctx = CheckContext(sandbox=sandbox, timeout_s=300)

        def interleaved(argv, **kw):
            check_fmt(ctx)  # the parallel check runs just before init reads its config
            seen.append(Path(kw["env"]["TF_CLI_CONFIG_FILE"]).read_text())
            return RunResult(tuple(argv), 1, "", "stopped by the test", 0)

        monkeypatch.setattr(terraform_validate, "run_limited", interleaved)
        VERDICTS.clear()  # _available's pass would answer without running anything
        terraform_validate.check_validate(ctx)
    assert seen and "filesystem_mirror" in seen[0]


def test_the_lock_files_checksums_are_dropped_and_the_rest_kept(tmp_path):
    from services.validators.checks.terraform_validate import _unhashed_lock  # noqa: PLC0415

    lock = tmp_path / ".terraform.lock.hcl"
    lock.write_text('# maintained by init\n\nprovider "registry.terraform.io/hashicorp/aws" {\n  version     = "5.100.0"\n'
                    '  constraints = "~> 5.60"\n  hashes = [\n    "h1:abc=",\n    "zh:0123",\n  ]\n}\n\n'
                    'provider "registry.terraform.io/hashicorp/random" {\n  version = "3.6.0"\n  hashes  = ["h1:xyz="]\n}\n')
    _unhashed_lock(tmp_path)
    text = lock.read_text()
    assert "hashes" not in text and "h1:" not in text and "zh:" not in text
    assert text.count("provider ") == 2 and 'version     = "5.100.0"' in text and 'constraints = "~> 5.60"' in text
    assert 'version = "3.6.0"' in text
    _unhashed_lock(tmp_path / "missing")  # no lock file (init wrote none): nothing to do


def test_the_terraform_version_is_asked_once_per_binary(tmp_path):
    """The version is cached by the binary's identity: the same file is not asked twice, a replaced one is."""
    import time  # noqa: PLC0415

    from services.validators.checks.terraform_validate import terraform_version  # noqa: PLC0415
    from services.validators.sandbox import RunResult  # noqa: PLC0415

    binary = tmp_path / "terraform"
    binary.write_text("1.9.0")
    asked: list[str] = []

    def run(*args: str) -> RunResult:
        asked.append(binary.read_text())
        return RunResult(("terraform", *args), 0, f"Terraform v{binary.read_text()}\non linux_amd64\n", "", 1)

    assert terraform_version(str(binary), run) == "1.9.0"
    assert terraform_version(str(binary), run) == "1.9.0"
    assert asked == ["1.9.0"]
    time.sleep(0.01)
    binary.write_text("1.11.4")  # an upgrade in place: new size and modification time
    assert terraform_version(str(binary), run) == "1.11.4"
    assert asked == ["1.9.0", "1.11.4"]


def test_the_version_terraform_test_announces_is_read():
    from services.validators.checks.terraform_validate import _test_version  # noqa: PLC0415

    out = ('{"@level":"info","@message":"Terraform 1.11.4","terraform":"1.11.4","type":"version","ui":"1.2"}\n'
           '{"@level":"info","@message":"Found 1 file and 3 run blocks","type":"test_abstract"}\n')
    assert _test_version(out) == "1.11.4"
    assert _test_version('{"type":"test_abstract"}\nnot json\n') == ""


def test_a_passing_run_reports_the_terraform_version():
    files = _files("fraud-eu-pci")
    result = _result(files)
    if result.status == "skipped":
        pytest.skip(result.reason)
    assert result.status == "pass" and result.version.startswith("terraform 1.")


def test_the_bootstrap_is_judged_as_its_own_root():
    """`infra/bootstrap` (state bucket, deploy roles, registries) is applied first and apart; a
    mistake there failed nothing while only `infra/` was initialised."""
    files = _files("fraud-eu-pci")
    if not _available(files):
        pytest.skip("terraform or the AWS provider is not available offline")
    boot = files["infra/bootstrap/main.tf"]
    files["infra/bootstrap/main.tf"] = boot + '\nresource "aws_s3_bucket" "typo" {\n  bucket_name = "x"\n}\n'
    result = _result(files)
    assert result.status == "fail"
    line = len(boot.splitlines()) + 3
    assert [(f.path, f.line) for f in result.findings if f.severity == "error"] == [("infra/bootstrap/main.tf", line)]
