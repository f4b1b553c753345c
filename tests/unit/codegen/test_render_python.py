"""Generated Python is lint-clean under its own ruff config, and its own tests pass."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from amp_domain.requirements.extraction import extract

from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.policy.engine import evaluate
from services.validators.checks import validate_tree
from tests.evaldata import scenarios

PYTHON = sys.executable
RUFF = shutil.which("ruff", path=str(Path(PYTHON).parent)) or shutil.which("ruff")


def _run(args: list[str], cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(args, check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.skipif(RUFF is None, reason="ruff is not installed")
def test_ruff_check_and_format_pass_with_the_generated_config(written):
    for name, root in written.items():
        assert (root / "pyproject.toml").is_file()
        check = _run([RUFF, "check", "--no-cache", "."], root)
        assert check.returncode == 0, f"{name}: ruff check\n{check.stdout}{check.stderr}"
        fmt = _run([RUFF, "format", "--check", "--no-cache", "."], root)
        assert fmt.returncode == 0, f"{name}: ruff format --check\n{fmt.stdout}{fmt.stderr}"


@pytest.mark.parametrize("name", ["aws_online_pci", "gcp_batch_serverless", "azure_batch_serverless",
                                  "gcp_streaming", "aws_streaming_serverless", "azure_online_containers",
                                  "aws_full", "gcp_full"])
@pytest.mark.slow
def test_generated_project_trains_and_its_tests_pass(written, name):
    root = written[name]
    if shutil.which("make"):
        result = _run(["make", "train", "test", f"PYTHON={PYTHON}"], root)
    else:  # the same two steps the Makefile runs
        result = _run([PYTHON, "services/training/train.py"], root)
        if result.returncode == 0:
            result = _run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"], root)
    assert result.returncode == 0, f"{name}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    approved = json.loads((root / "artifacts" / "registry" / "approved.json").read_text())
    meta = json.loads((root / "artifacts" / "registry" / approved["version"] / "metadata.json").read_text())
    assert meta["gate"]["passed"] and meta["data"]["version"].startswith("sha256:")
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_request_fields_validate_ranges(rendered):
    app = rendered["aws_online_pci"]["services/serving/app.py"]
    assert 'amount_usd: float = Field(ge=0.0, le=5000.0' in app
    assert 'extra="forbid"' in app



def test_seams_are_found_and_model_code_replaces_only_the_seam(rendered, tmp_path):
    """The serving app's request check is a seam: its default leaves the output as rendered;
    other code replaces just the seam, is reformatted, and the file stays ruff-clean."""
    from services.codegen.seams import apply_fills, find_seams

    files = next(iter(rendered.values()))
    seams = find_seams(files)
    assert [s.id for s in seams] == ["check_request"]
    seam = seams[0]
    assert seam.path == "services/serving/app.py" and seam.signature.startswith("def check_request(")
    assert apply_fills(files, seams, {s.id: s.default for s in seams}) == files
    code = ("def check_request(row: dict[str, float]) -> list[str]:\n"
            "    return [f'{k} must not be negative' for k, v in row.items() if v < 0]\n")
    filled = apply_fills(files, seams, {"check_request": code})
    changed = [p for p in files if files[p] != filled[p]]
    assert changed == ["services/serving/app.py"]
    app = filled["services/serving/app.py"]
    assert "must not be negative" in app and app.count("# amp:seam") == 1 and app.count("# amp:end-seam") == 1
    target = tmp_path / "app.py"
    target.write_text(app)
    (tmp_path / "pyproject.toml").write_text(files["pyproject.toml"])
    for args in (["check", "--no-cache", str(target)], ["format", "--check", "--no-cache", str(target)]):
        proc = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def _scenario_tree(scenario: dict) -> dict[str, str]:
    constraints = extract(scenario["text"]).constraints
    plan = compose_plan(constraints)
    cost = estimate(plan, constraints)
    return render_repository(plan, constraints, cost, evaluate(constraints, plan, cost), [], [], scenario["id"],
                             scenario["text"])


@pytest.mark.slow
@pytest.mark.parametrize("scenario", scenarios(), ids=lambda s: s["id"])
def test_each_scenarios_generated_tests_pass_in_the_sandbox(scenario):
    """The validators' own pytest check: the training entry point, then the generated tests, isolated."""
    files = _scenario_tree(scenario)
    report = validate_tree(files, checks=["pytest"], timeout_s=600)
    result = report.tool("pytest")
    assert result is not None
    if result.status == "skipped":
        pytest.skip(f"pytest check skipped: {result.reason}")
    assert result.status == "pass", [f.message for f in result.findings]
