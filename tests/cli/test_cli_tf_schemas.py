"""`amp tf-schemas` exports the provider schemas the validators judge Terraform against.

The test machine reaches no registry, so the export is tried where a provider can be installed
from the local filesystem mirror (the AWS provider) and where it cannot (Google's).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest
from amp_cli.tf_schemas import configuration
from cli_helpers import ROOT, env

from services.validators.checks.schema_provider import load_answer, schema_files
from services.validators.checks.terraform_validate import DEFAULT_MIRROR, terraform_binary

MIRROR = Path(os.environ.get("AMP_TF_PLUGIN_MIRROR", DEFAULT_MIRROR))


def _amp(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    rc = tmp_path / "mirror.tfrc"
    rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{MIRROR}"\n  }}\n}}\n')
    return subprocess.run([sys.executable, "-m", "amp_cli.main", "tf-schemas", *args], cwd=ROOT,
                          env={**env(), "TF_CLI_CONFIG_FILE": str(rc)}, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=600, check=False)


def test_the_configuration_asks_for_the_generated_trees_constraints():
    doc = hcl2.loads(configuration(["gcp", "azure"]))
    required = {k: v for block in doc["terraform"][0]["required_providers"] for k, v in block.items()
                if not k.startswith("__")}
    assert {k: (v["source"].strip('"'), v["version"].strip('"')) for k, v in required.items()} == {
        "google": ("hashicorp/google", "~> 5.40"), "azurerm": ("hashicorp/azurerm", "~> 3.110")}


def test_an_installable_provider_is_exported_where_the_validators_read_it(tmp_path):
    if terraform_binary() is None or not (MIRROR / "registry.terraform.io/hashicorp/aws").is_dir():
        pytest.skip("the Terraform CLI or the AWS provider's build is not available offline")
    out = tmp_path / "schemas"
    done = _amp(tmp_path, "--only", "aws", "--out", str(out))
    assert done.returncode == 0, done.stderr
    (address, versions), = schema_files(out).items()
    (version, path), = versions.items()
    assert address == "registry.terraform.io/hashicorp/aws" and done.stdout.strip() == str(path)
    assert (MIRROR / address / version).is_dir()  # the build init installed, named by its version
    answer = load_answer(path, address)
    assert b"aws_s3_bucket" in answer and b"aws_sagemaker_endpoint" in answer


def test_a_provider_that_cannot_be_installed_is_reported_not_traced(tmp_path):
    if terraform_binary() is None:
        pytest.skip("the Terraform CLI is not installed")
    done = _amp(tmp_path, "--only", "gcp", "--out", str(tmp_path / "schemas"))
    assert done.returncode == 1
    assert done.stderr.startswith("amp: terraform init failed") and "hashicorp/google" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "schemas").exists()


def test_an_unknown_cloud_is_a_usage_error(tmp_path):
    done = _amp(tmp_path, "--only", "aws,oracle")
    assert done.returncode == 2 and "aws, gcp, azure" in done.stderr and "oracle" in done.stderr
