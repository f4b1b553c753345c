"""checkov kept warm: the same findings as the CLI, one process across scans, replaced when it dies or hangs."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from amp_runtime.settings import Settings

from bench.validation import render as generated_tree
from services.validators.checks import validate_tree
from services.validators.checks.base import CheckContext
from services.validators.checks.checkov import ARGV, VERDICTS, _findings, _reports, check_checkov
from services.validators.checks.checkov_worker import worker_for
from services.validators.sandbox import Sandbox
from services.validators.toolenv import CHECKOV, ToolUnavailable, ensure_tool
from tests.evaldata import scenarios
from tests.validator_trees import clean_tree

pytestmark = pytest.mark.slow  # checkov in its own tool environment (installed on first use)

OPEN_BUCKET = '''resource "aws_s3_bucket" "open" {
  bucket = "wide-open"
}

resource "aws_security_group" "any" {
  name = "any"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
'''


@pytest.fixture(scope="module")
def checkov_exe():
    try:
        return ensure_tool(CHECKOV)
    except ToolUnavailable as e:
        pytest.skip(f"checkov's tool environment cannot be built here: {e.reason}")


def _run(files: dict[str, str], warm: bool):
    VERDICTS.clear()  # each run scans (the reuse of verdicts has its own test)
    with Sandbox(files) as sb:
        return check_checkov(CheckContext(sandbox=sb, timeout_s=120), warm=warm)


def test_the_warm_process_finds_what_the_cli_finds(checkov_exe) -> None:
    files = {"infra/main.tf": OPEN_BUCKET}
    warm, cold = _run(files, warm=True), _run(files, warm=False)
    assert warm.status == cold.status == "pass"  # findings are warnings unless hard_fail
    ids = sorted((f.rule, f.path) for f in warm.findings)
    assert ids == sorted((f.rule, f.path) for f in cold.findings)
    assert "CKV_AWS_24" in {r for r, _ in ids}  # SSH open to the world
    assert warm.isolation


def _failed(scan) -> list[tuple[str, str, str]]:
    """What a scan found, in an order of our own (checkov's lists are not ordered)."""
    return sorted((f.rule, f.path or "", f.message) for r in _reports(scan.stdout) for f in _findings(r, False))


def test_one_process_serves_many_scans_and_a_dead_one_is_replaced(checkov_exe) -> None:
    worker = worker_for(checkov_exe)
    first = worker.scan({"main.tf": OPEN_BUCKET}, ARGV, 120)
    pid = worker.proc.pid
    second = worker.scan({"other/main.tf": OPEN_BUCKET}, ARGV, 120)
    assert worker.proc.pid == pid and first.returncode == second.returncode
    assert _failed(first) and [(r, m) for r, _, m in _failed(first)] == [(r, m) for r, _, m in _failed(second)]
    assert {p for _, p, _ in _failed(second)} == {"other/main.tf"}  # paths of this scan, not of an earlier one
    os.killpg(pid, 9)
    worker.proc.wait()
    again = worker.scan({"main.tf": OPEN_BUCKET}, ARGV, 120)
    assert worker.proc.pid != pid and _failed(again) == _failed(first)


def test_a_scan_past_its_time_limit_is_an_error_and_the_process_is_stopped(checkov_exe) -> None:
    worker = worker_for(checkov_exe)
    worker.scan({"main.tf": OPEN_BUCKET}, ARGV, 120)  # warm
    with Sandbox({"infra/main.tf": OPEN_BUCKET * 200}) as sb:
        result = check_checkov(CheckContext(sandbox=sb, timeout_s=0.01))
    assert result.status == "error" and "timed out" in (result.reason or "")
    assert worker.proc is None  # replaced on the next scan
    assert _run({"infra/main.tf": OPEN_BUCKET}, warm=True).status == "pass"


def test_a_second_scan_of_the_same_terraform_is_answered_from_the_first(checkov_exe) -> None:
    """The verdict rests on the Terraform files alone: other files may change, the scan is not repeated;
    a changed Terraform file is scanned again. Errors are never reused."""
    first = _run({"infra/main.tf": OPEN_BUCKET, "README.md": "one"}, warm=True)
    worker = worker_for(checkov_exe)
    scans = worker.scans
    with Sandbox({"infra/main.tf": OPEN_BUCKET, "README.md": "two", "services/app.py": "x = 1\n"}) as sb:
        again = check_checkov(CheckContext(sandbox=sb, timeout_s=120))
    assert worker.scans == scans  # not scanned
    assert again.status == first.status and again.findings == first.findings and again.version == first.version
    changed = OPEN_BUCKET.replace("wide-open", "wide-open-2")
    with Sandbox({"infra/main.tf": changed}) as sb:
        rescanned = check_checkov(CheckContext(sandbox=sb, timeout_s=120))
    assert worker.scans == scans + 1 and "CKV_AWS_24" in {f.rule for f in rescanned.findings}
    with Sandbox({"infra/main.tf": OPEN_BUCKET * 200}) as sb:
        assert check_checkov(CheckContext(sandbox=sb, timeout_s=0.01)).status == "error"
    with Sandbox({"infra/main.tf": OPEN_BUCKET * 200}) as sb:
        assert check_checkov(CheckContext(sandbox=sb, timeout_s=120)).status in ("pass", "fail")  # scanned


def test_checkov_is_on_by_default_and_can_be_switched_off(checkov_exe) -> None:
    assert Settings.from_env({}).validators_checkov is True
    assert Settings.from_env({"AMP_CHECKOV": "0"}).validators_checkov is False
    report = validate_tree(clean_tree(), checks=["checkov"])
    assert report.tool("checkov").status == "pass"


def test_each_scan_sees_its_own_tree_not_the_one_before(checkov_exe) -> None:
    worker = worker_for(checkov_exe)
    with_ssh = worker.scan({"main.tf": OPEN_BUCKET}, ARGV, 120)
    bucket_only = worker.scan({"main.tf": OPEN_BUCKET.split("resource \"aws_security_group\"")[0]}, ARGV, 120)
    assert "CKV_AWS_24" in {r for r, _, _ in _failed(with_ssh)}
    assert "CKV_AWS_24" not in {r for r, _, _ in _failed(bucket_only)}
    assert _failed(bucket_only)  # the bucket's own findings remain


#: Expressions of every kind the renderer evaluates: functions, `try`, conditionals, `for`, templates,
#: a `timestamp()`, and strings with `=` in them (which the evaluator could take for assignments).
RENDERED = '''locals {
  name   = "demo-${var.env}"
  ports  = [for p in var.ports : p + 1]
  tags   = merge(var.tags, { Name = local.name, Stamp = timestamp() })
  public = var.env == "prod" ? false : true
  query  = "a = b"
  picked = try(var.missing.attr, "fallback")
  zones  = toset(["a", "b", "a"])
}

variable "env" {
  default = "dev"
}

variable "ports" {
  default = [21, 22]
}

variable "tags" {
  default = { team = "ml" }
}

resource "aws_security_group" "rendered" {
  name        = local.name
  description = "x = ${local.query}"
  dynamic "ingress" {
    for_each = local.ports
    content {
      from_port   = ingress.value
      to_port     = ingress.value
      protocol    = "tcp"
      cidr_blocks = local.public ? ["0.0.0.0/0"] : ["10.0.0.0/8"]
    }
  }
  tags = local.tags
}

resource "aws_s3_bucket" "each" {
  for_each = local.zones
  bucket   = "${local.name}-${each.key}-${local.picked}"
  tags     = local.tags
}
'''


def _every_result(stdout: str) -> list[tuple]:
    """Every check's outcome with the resource as checkov rendered it, in an order of our own."""
    rows = []
    for report in _reports(stdout):
        results = report.get("results") or {}
        for kind in ("passed_checks", "failed_checks", "skipped_checks"):
            for c in results.get(kind) or []:
                result = c.get("check_result") or {}
                entity = {k: v for k, v in (result.get("entity") or {}).items()}
                rows.append((kind, c["check_id"], c.get("file_path"), c.get("resource"), result.get("result"),
                             tuple(c.get("file_line_range") or ()), json.dumps(entity, sort_keys=True, default=str)))
        rows.append(("parsing_errors", tuple(sorted(results.get("parsing_errors") or []))))
    return sorted(rows, key=repr)


def _plain_checkov(checkov_exe, files: dict[str, str], argv: list[str], tmp_path) -> str:
    """checkov's own CLI, without anything the worker installs."""
    root = tmp_path / f"plain-{len(list(tmp_path.iterdir()))}"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    done = subprocess.run([str(checkov_exe), *argv], cwd=root, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "LOG_LEVEL": "ERROR"})
    assert done.stdout.strip(), done.stderr[-2000:]
    return done.stdout


@pytest.mark.timeout(900)
def test_the_remembered_answers_change_nothing_checkov_finds_or_renders(checkov_exe, tmp_path) -> None:
    """The worker (with `checkov_warm`) and checkov's own CLI, over generated trees of two projects of
    one text (the second answered mostly from what the first left) and a tree of every kind of
    expression, report every check the same, each resource rendered the same."""
    worker = worker_for(checkov_exe)
    worker.stop()  # a fresh worker: what it remembers comes from this test's scans
    argv = [a for a in ARGV if a != "--quiet"]  # passed checks too, each with its rendered resource
    text = scenarios()[0]["text"]
    trees = [_terraform(generated_tree(text, name)) for name in ("first-project", "second-project")]
    trees.append({"main.tf": RENDERED, "open/main.tf": OPEN_BUCKET})
    for files in trees:
        warm = worker.scan(files, argv, 600)
        assert worker.warm, "checkov_warm did not install in the worker"
        plain = _plain_checkov(checkov_exe, files, argv, tmp_path)
        assert _every_result(warm.stdout) == _every_result(plain)
    assert any(kind == "failed_checks" and check == "CKV_AWS_24"
               for kind, check, *_ in _every_result(warm.stdout) if kind != "parsing_errors")


def _terraform(files: dict[str, str]) -> dict[str, str]:
    return {p: t for p, t in files.items() if p.endswith((".tf", ".tfvars"))}
