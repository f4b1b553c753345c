"""Generated Python is lint-clean under its own ruff config, and its own tests pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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
                                  "gcp_streaming"])
def test_generated_project_trains_and_its_tests_pass(written, name):
    root = written[name]
    if shutil.which("make"):
        result = _run(["make", "train", "test", f"PYTHON={PYTHON}"], root)
    else:  # the same two steps the Makefile runs
        result = _run([PYTHON, "services/training/train.py"], root)
        if result.returncode == 0:
            result = _run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"], root)
    assert result.returncode == 0, f"{name}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert (root / "artifacts" / "model.json").is_file()
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_request_fields_validate_ranges(rendered):
    app = rendered["aws_online_pci"]["services/serving/app.py"]
    assert 'amount_usd: float = Field(ge=0.0, le=5000.0' in app
    assert 'extra="forbid"' in app
