"""Names with a length limit, as Terraform computes them from each module's own `locals`.

The modules built names as `<name_prefix>-<role>[-<region>]` and cut them at the cloud's limit.
With a long project name (a 24-character slug in staging makes a 32-character prefix) the cut
removed the role, so several Google Cloud service accounts of an environment asked for one id,
a Key Vault's name could end on a hyphen and be the same in every environment (its name is
global), an Azure Container Apps job was refused outright past 32 characters, as
`fraud-scoring-staging-batch-score` is, and a project of 20 letters in prod gave its data lake
and its Functions' storage account one name. Terraform itself evaluates the modules' expressions here,
over the longest names the platform makes and every region shape, against each resource's rule.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from services.codegen.render_text import TEMPLATES, slugify
from services.validators.checks.terraform_validate import terraform_binary

GCP = TEMPLATES / "terraform" / "gcp" / "modules"
AZURE = TEMPLATES / "terraform" / "azure" / "modules"
_ACCOUNT_LOCALS = re.compile(r"^locals \{\n  account_names = \{\n.*?\n\}\n", re.MULTILINE | re.DOTALL)
_NAME_LOCALS = re.compile(r"^locals \{\n  ([a-z_]+_name)(?:_full)? += .*?\n\}\n", re.MULTILINE | re.DOTALL)
#: Google Cloud service account ids.
_ACCOUNT_ID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
#: Azure's rules for the names the modules compute (a double hyphen is refused by each, too).
AZURE_RULES = {
    "vault_name": re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$"),
    "job_name": re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"),
    "app_name": re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"),  # a Container App; a function app's below
    "workspace_name": re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$"),
    "lake_account_name": re.compile(r"^[a-z0-9]{3,24}$"),
    "runtime_account_name": re.compile(r"^[a-z0-9]{3,24}$"),
}
#: A function app and its plan (Microsoft.Web): 2 to 60 letters, digits and hyphens.
FUNCTION_APP = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,58}[a-zA-Z0-9]$")
#: The longest slug `slugify` makes, in every environment; shorter ones; the longest region shapes.
PREFIXES = [f"{slugify('x' * 40)}-{env}" for env in ("dev", "staging", "prod")] + [
    "ab-dev", "fraud-scoring-prod", "fraud-scoring-staging", "a-very-long-project-nam-staging"]
REGIONS = ["us-east1", "europe-west4", "northamerica-northeast1", "germanywestcentral"]
CASES = {f"c{i}": {"p": p, "r": r} for i, (p, r) in enumerate((p, r) for p in PREFIXES for r in REGIONS)}


def _modules(directory: Path, pattern: re.Pattern[str]) -> dict[str, str]:
    """Each template's naming `locals` blocks, by module name."""
    found = {}
    for path in sorted(directory.glob("*.tf")):
        blocks = [m.group(0) for m in pattern.finditer(path.read_text(encoding="utf-8"))]
        if blocks:
            found[path.name.removesuffix(".tf").replace("@", "_")] = "".join(blocks)
    return found


def _evaluate(root: Path, modules: dict[str, str], outputs: dict[str, str]) -> dict[str, dict[str, dict]]:
    """module -> case -> the values `outputs` (name -> expression) take, as Terraform computes them."""
    terraform = terraform_binary()
    if terraform is None:
        pytest.skip("the Terraform CLI is not installed")
    for name, blocks in modules.items():
        (root / name).mkdir(parents=True)
        body = "".join(f"  {k} = {v}\n" for k, v in outputs.items() if v.split(".")[1].split("[")[0] in blocks)
        (root / name / "main.tf").write_text('variable "name_prefix" {}\nvariable "region" {}\n' + blocks
                                             + f'output "names" {{\n  value = {{\n{body}  }}\n}}\n', encoding="utf-8")
    calls = "".join(f'module "{m}" {{\n  source      = "./{m}"\n  for_each    = local.cases\n'
                    f'  name_prefix = each.value.p\n  region      = each.value.r\n}}\n'
                    f'output "{m}" {{\n  value = {{ for k, v in module.{m} : k => v.names }}\n}}\n' for m in modules)
    (root / "main.tf").write_text(f"locals {{\n  cases = jsondecode({json.dumps(json.dumps(CASES))})\n}}\n" + calls,
                                  encoding="utf-8")
    for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
        subprocess.run([terraform, *args], cwd=root, check=True, capture_output=True, timeout=300)
    shown = json.loads(subprocess.run([terraform, "output", "-json"], cwd=root, check=True, capture_output=True,
                                      timeout=120).stdout)
    return {m: out["value"] for m, out in shown.items()}


def test_every_google_cloud_account_takes_its_id_from_the_shared_rule():
    for path in sorted(GCP.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        if 'resource "google_service_account"' in text:
            assert _ACCOUNT_LOCALS.search(text), path.name
            assert text.count("account_id   = local.account_ids[") == text.count('resource "google_service_account"')


def test_google_cloud_account_ids_are_valid_and_unique_for_long_names_and_every_region(tmp_path):
    assert max(len(c["p"]) for c in CASES.values()) >= 31
    shown = _evaluate(tmp_path, _modules(GCP, _ACCOUNT_LOCALS), {"ids": "local.account_ids"})
    assert len(shown) >= 6
    for case, given in CASES.items():
        ids = [i for out in shown.values() for i in out[case]["ids"].values()]
        assert len(ids) >= 9
        assert all(_ACCOUNT_ID.match(i) for i in ids), (given, ids)
        assert len(set(ids)) == len(ids), (given, ids)  # one project per environment
    for prefix in PREFIXES:  # a regional account differs per region
        regional = [i for case, given in CASES.items() if given["p"] == prefix
                    for i in shown["serving_batch"][case]["ids"].values()]
        assert len(set(regional)) == len(regional), prefix


def test_azure_names_meet_their_resources_rules_and_a_vault_differs_per_environment(tmp_path):
    modules = _modules(AZURE, _NAME_LOCALS)
    names = {m.group(1) for text in modules.values() for m in _NAME_LOCALS.finditer(text)}
    assert names == set(AZURE_RULES)  # every computed name has its rule here
    shown = _evaluate(tmp_path, modules, {n: f"local.{n}" for n in names})
    for module, out in shown.items():
        for case, values in out.items():
            for name, value in values.items():
                rule = FUNCTION_APP if (module, name) == ("serving_online", "app_name") else AZURE_RULES[name]
                assert rule.match(value) and "--" not in value, (module, CASES[case], name, value)
    # Key Vault and storage account names are global: one per environment, and the lake's and the
    # Functions' accounts of one environment differ
    for module, name in (("security_kms", "vault_name"), ("storage", "lake_account_name")):
        per_prefix = {CASES[case]["p"]: values[name] for case, values in shown[module].items()}
        assert len(set(per_prefix.values())) == len(per_prefix), per_prefix
    for case in CASES:
        assert shown["storage"][case]["lake_account_name"] != shown["serving_online"][case]["runtime_account_name"]
