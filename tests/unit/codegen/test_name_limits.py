"""Names with a length limit, as Terraform computes them from each module's own `locals`.

The modules built names as `<name_prefix>-<role>[-<region>]` and cut them at the cloud's limit.
With a long project name (a 24-character slug in staging makes a 32-character prefix) the cut
removed the role, so several Google Cloud service accounts of an environment asked for one id,
a Key Vault's name could end on a hyphen and be the same in every environment (its name is
global), an Azure Container Apps job was refused outright past 32 characters, as
`fraud-scoring-staging-batch-score` is, and a project of 20 letters in prod gave its data lake
and its Functions' storage account one name. Names unique across a cloud (buckets, storage accounts,
vaults, registries) were the project's and environment's only, so two teams who named their projects
alike (`fraud-scoring`, say) could not both deploy: the second apply failed on a taken name. They now
carry the account, project or subscription they are made in. Terraform itself evaluates the modules'
expressions here, over the longest names the platform makes, every region shape and several
accounts, against each resource's rule.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from amp_runtime.providers import DeterministicProvider

from services.codegen.cicd_names import project_digest
from services.codegen.nodes import codegen
from services.codegen.render import render_repository
from services.codegen.render_text import TEMPLATES, slugify
from services.codegen.state import CodegenState
from services.validators.checks.names import consistency_findings
from services.validators.checks.terraform_validate import terraform_binary
from tests.unit.codegen.conftest import PLANS, inputs_for

AWS = TEMPLATES / "terraform" / "aws" / "modules"
GCP = TEMPLATES / "terraform" / "gcp" / "modules"
AZURE = TEMPLATES / "terraform" / "azure" / "modules"
_ACCOUNT_LOCALS = re.compile(r"^locals \{\n  account_names = \{\n.*?\n\}\n", re.MULTILINE | re.DOTALL)
_NAME_LOCALS = re.compile(r"^locals \{\n  ([a-z_]+_name|subscription_digest)(?:_full)? += .*?\n\}\n",
                          re.MULTILINE | re.DOTALL)
_BUCKET_LOCALS = re.compile(r"^locals \{\n  ([a-z_]*bucket_name)(?:_full)? += .*?\n\}\n", re.MULTILINE | re.DOTALL)
#: What a module reads its account, project or subscription from; the harness gives it as `var.scope`.
_SCOPE = re.compile(r"data\.aws_caller_identity\.current\.account_id|data\.azurerm_client_config\.current\."
                    r"subscription_id|var\.project_id")
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
    "workspace_account_name": re.compile(r"^[a-z0-9]{3,24}$"),
    "workspace_vault_name": re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$"),
    "registry_name": re.compile(r"^[a-zA-Z0-9]{5,50}$"),
    "cache_name": re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9]$"),
    "namespace_name": re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{4,48}[a-zA-Z0-9]$"),
    "factory_name": re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{1,61}[a-zA-Z0-9]$"),
}
#: The Azure names unique across Azure (the others are unique within a resource group).
AZURE_GLOBAL = {"vault_name", "lake_account_name", "runtime_account_name", "workspace_account_name",
                "workspace_vault_name", "registry_name", "cache_name", "namespace_name", "factory_name"}
#: Bucket names: S3 (3 to 63 lower-case letters, digits, hyphens and dots, a letter or digit at each
#: end) and Cloud Storage (the same, with nothing like "google" in them).
BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
#: Resource types whose names are unique across their cloud, and the argument that names them.
GLOBAL_TYPES = {
    AWS: {"aws_s3_bucket": "bucket"},
    GCP: {"google_storage_bucket": "name"},
    AZURE: {t: "name" for t in ("azurerm_storage_account", "azurerm_key_vault", "azurerm_container_registry",
                                "azurerm_redis_cache", "azurerm_eventhub_namespace", "azurerm_data_factory",
                                "azurerm_linux_function_app")},
}
#: A function app and its plan (Microsoft.Web): 2 to 60 letters, digits and hyphens.
FUNCTION_APP = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,58}[a-zA-Z0-9]$")
#: The longest slug `slugify` makes, in every environment; shorter ones; the longest region shapes.
PREFIXES = [f"{slugify('x' * 40)}-{env}" for env in ("dev", "staging", "prod")] + [
    "ab-dev", "fraud-scoring-prod", "fraud-scoring-staging", "a-very-long-project-nam-staging", "google-ads-prod"]
REGIONS = ["us-east1", "europe-west4", "northamerica-northeast1", "germanywestcentral"]
#: Two accounts (AWS), projects (Google Cloud: a short id and the longest there are) or subscriptions (Azure).
SCOPES = {AWS: ["123456789012", "210987654321"], GCP: ["fraud-prod", "a-very-long-project-id-1234567"],
          AZURE: ["0b1e7a52-3c1d-4f0e-9a55-6f2d7c1e8b90", "9f3c2b1a-7d6e-4c5b-8a49-3e2f1d0c9b8a"]}


def _cases(scopes: list[str]) -> dict[str, dict[str, str]]:
    return {f"c{i}": {"p": p, "r": r, "s": s}
            for i, (p, r, s) in enumerate((p, r, s) for p in PREFIXES for r in REGIONS for s in scopes)}


def _modules(directory: Path, pattern: re.Pattern[str]) -> dict[str, str]:
    """Each template's naming `locals` blocks, by module name."""
    found = {}
    for path in sorted(directory.glob("*.tf")):
        blocks = [m.group(0) for m in pattern.finditer(path.read_text(encoding="utf-8"))]
        if blocks:
            found[path.name.removesuffix(".tf").replace("@", "_")] = "".join(blocks)
    return found


def _evaluate(root: Path, modules: dict[str, str], outputs: dict[str, str],
              cases: dict[str, dict[str, str]]) -> dict[str, dict[str, dict]]:
    """module -> case -> the values `outputs` (name -> expression) take, as Terraform computes them."""
    terraform = terraform_binary()
    if terraform is None:
        pytest.skip("the Terraform CLI is not installed")
    for name, blocks in modules.items():
        (root / name).mkdir(parents=True)
        body = "".join(f"  {k} = {v}\n" for k, v in outputs.items()
                       if re.search(rf"^  {v.split('.')[1].split('[')[0]} += ", blocks, re.MULTILINE))
        (root / name / "main.tf").write_text(
            'variable "name_prefix" {}\nvariable "region" {}\nvariable "scope" {}\n' + _SCOPE.sub("var.scope", blocks)
            + f'output "names" {{\n  value = {{\n{body}  }}\n}}\n', encoding="utf-8")
    calls = "".join(f'module "{m}" {{\n  source      = "./{m}"\n  for_each    = local.cases\n'
                    f'  name_prefix = each.value.p\n  region      = each.value.r\n  scope       = each.value.s\n}}\n'
                    f'output "{m}" {{\n  value = {{ for k, v in module.{m} : k => v.names }}\n}}\n' for m in modules)
    (root / "main.tf").write_text(f"locals {{\n  cases = jsondecode({json.dumps(json.dumps(cases))})\n}}\n" + calls,
                                  encoding="utf-8")
    for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
        done = subprocess.run([terraform, *args], cwd=root, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    shown = json.loads(subprocess.run([terraform, "output", "-json"], cwd=root, check=True, capture_output=True,
                                      timeout=120).stdout)
    return {m: out["value"] for m, out in shown.items()}


def test_every_google_cloud_account_takes_its_id_from_the_shared_rule():
    for path in sorted(GCP.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        if 'resource "google_service_account"' in text:
            assert _ACCOUNT_LOCALS.search(text), path.name
            assert text.count("account_id   = local.account_ids[") == text.count('resource "google_service_account"')


@pytest.mark.parametrize("directory", list(GLOBAL_TYPES), ids=lambda d: d.parent.name)
def test_every_name_unique_across_its_cloud_comes_from_a_computed_local(directory):
    """A name the tests below do not evaluate could be the project's and environment's only again."""
    seen = 0
    for path in sorted(directory.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        for kind, argument in GLOBAL_TYPES[directory].items():
            for block in re.findall(rf'^resource "{kind}" "[a-z_]+" \{{\n(.*?)\n\}}', text, re.MULTILINE | re.DOTALL):
                seen += 1
                named = re.search(rf"^  {argument} += (.*)$", block, re.MULTILINE)
                assert named and re.fullmatch(r"local\.[a-z_]+_name", named.group(1)), (path.name, kind, named)
                pattern = _NAME_LOCALS if directory is AZURE else _BUCKET_LOCALS
                assert named.group(1).removeprefix("local.") in {
                    m.group(1) for m in pattern.finditer(text)}, (path.name, named.group(1))
    assert seen >= len(GLOBAL_TYPES[directory])


def test_google_cloud_account_ids_are_valid_and_unique_for_long_names_and_every_region(tmp_path):
    cases = _cases(SCOPES[GCP][:1])
    assert max(len(c["p"]) for c in cases.values()) >= 31
    shown = _evaluate(tmp_path, _modules(GCP, _ACCOUNT_LOCALS), {"ids": "local.account_ids"}, cases)
    assert len(shown) >= 6
    for case, given in cases.items():
        ids = [i for out in shown.values() for i in out[case]["ids"].values()]
        assert len(ids) >= 9
        assert all(_ACCOUNT_ID.match(i) for i in ids), (given, ids)
        assert len(set(ids)) == len(ids), (given, ids)  # one project per environment
    for prefix in PREFIXES:  # a regional account differs per region
        regional = [i for case, given in cases.items() if given["p"] == prefix
                    for i in shown["serving_batch"][case]["ids"].values()]
        assert len(set(regional)) == len(regional), prefix


def _global(shown: dict[str, dict[str, dict]], cases: dict[str, dict[str, str]], module: str, name: str) -> None:
    """One name per environment and account (or project, or subscription) of the same region."""
    values = {(c["p"], c["s"]): shown[module][case][name] for case, c in cases.items() if c["r"] == REGIONS[0]}
    assert len(set(values.values())) == len(values) == len(PREFIXES) * 2, (module, name, values)


@pytest.mark.parametrize("directory", [AWS, GCP], ids=["aws", "gcp"])
def test_buckets_are_named_within_the_rules_and_the_account_or_project_they_are_made_in(tmp_path, directory):
    cases = _cases(SCOPES[directory])
    modules = _modules(directory, _BUCKET_LOCALS)
    names = {(m, n.group(1)) for m, text in modules.items() for n in _BUCKET_LOCALS.finditer(text)}
    assert {n for _, n in names} >= {"bucket_name"}
    shown = _evaluate(tmp_path, modules, {n: f"local.{n}" for _, n in names}, cases)
    for module, name in names:
        for case, given in cases.items():
            value = shown[module][case][name]
            assert BUCKET.match(value) and "--" not in value, (module, given, value)
            if directory is GCP:
                assert not re.search(r"g[o0]{2}g", value), (module, given, value)
            # the account or project by name, or in a digest where the whole name is too long
            assert given["s"] in value or re.search(r"-[0-9a-f]{8}$", value), (module, given, value)
        _global(shown, cases, module, name)


def test_azure_names_meet_their_resources_rules_and_global_ones_differ_per_environment_and_subscription(tmp_path):
    cases = _cases(SCOPES[AZURE])
    modules = _modules(AZURE, _NAME_LOCALS)
    names = {m.group(1) for text in modules.values() for m in _NAME_LOCALS.finditer(text)} - {"subscription_digest"}
    assert names == set(AZURE_RULES)  # every computed name has its rule here
    assert AZURE_GLOBAL <= names
    shown = _evaluate(tmp_path, modules, {n: f"local.{n}" for n in names}, cases)
    for module, out in shown.items():
        for case, values in out.items():
            for name, value in values.items():
                rule = FUNCTION_APP if (module, name) == ("serving_online", "app_name") else AZURE_RULES[name]
                assert rule.match(value) and "--" not in value, (module, cases[case], name, value)
    for module, out in shown.items():
        for name in set(next(iter(out.values()))) & AZURE_GLOBAL:
            _global(shown, cases, module, name)
    # the lake's and the Functions' storage accounts of one environment differ
    for case in cases:
        assert shown["storage"][case]["lake_account_name"] != shown["serving_online"][case]["runtime_account_name"]
        assert shown["storage"][case]["lake_account_name"] != shown["training"][case]["workspace_account_name"]


def _azure_bootstrap_names(files: dict[str, str]) -> tuple[str, str]:
    boot = files["infra/bootstrap/main.tf"]
    account = re.search(r'resource "azurerm_storage_account" "state" \{\n(?:  #.*\n)*  name += "([a-z0-9]+)"', boot)
    registry = re.search(r'resource "azurerm_container_registry" "service" \{\n(?:  #.*\n)*  name += "([a-z0-9]+)"', boot)
    assert account and registry
    return account.group(1), registry.group(1)


PROJECT = "0b9d3f5e-1111-4a2b-9c3d-000000000001"


def test_the_azure_bootstraps_names_are_the_projects_own_and_every_workflow_uses_them():
    """The state's storage account and the image registry are named before Terraform runs (the
    workflows' backend configuration and registry login hold them), so the bootstrap cannot take
    them from the subscription: they carry a digest of the platform's project instead. Two projects
    with one name get two names; every version of one project keeps its names."""
    plan, constraints = PLANS["azure_batch_serverless"]()

    def render(project_id: str) -> dict[str, str]:
        return render_repository(plan, constraints, *inputs_for(plan), "Fraud scoring", "", project_id)

    first, again, other = (render(p) for p in (PROJECT, PROJECT, "7c2e4a10-2222-4b3c-8d4e-000000000002"))
    names = _azure_bootstrap_names(first)
    assert names == _azure_bootstrap_names(again)
    assert all(a != b for a, b in zip(names, _azure_bootstrap_names(other), strict=True))
    for files in (first, other):
        account, registry = _azure_bootstrap_names(files)
        assert re.fullmatch(r"[a-z0-9]{3,24}", account) and re.fullmatch(r"[a-z0-9]{5,50}", registry)
        workflows = "\n".join(t for p, t in files.items() if p.startswith(".github/workflows/"))
        assert f'storage_account_name={account}"' in workflows and f'--name "{registry}"' in workflows
        assert not consistency_findings(files)


async def test_the_codegen_step_renders_with_its_projects_id():
    plan, constraints = PLANS["azure_batch_serverless"]()
    state: CodegenState = {"project_id": PROJECT, "project_name": "Fraud scoring", "plan": plan,
                           "constraints": constraints}
    files = (await codegen(state, DeterministicProvider()))["files"]
    bare = render_repository(plan, constraints, None, None, [], [], "Fraud scoring")
    assert _azure_bootstrap_names(files)[0].endswith(project_digest(PROJECT))
    assert _azure_bootstrap_names(files) != _azure_bootstrap_names(bare)


def test_a_google_cloud_project_named_after_google_gets_a_state_bucket_cloud_storage_accepts():
    """Cloud Storage refuses bucket names holding "google"; the workflows' backend must still name
    the bucket the bootstrap makes."""
    plan, constraints = PLANS["gcp_batch_serverless"]()
    files = render_repository(plan, constraints, *inputs_for(plan), "Google Ads churn", "")
    state = re.search(r'resource "google_storage_bucket" "state" \{\n(?:  #.*\n)*  name += "([^"]+)"',
                      files["infra/bootstrap/main.tf"])
    assert state and state.group(1) == "gcp-ads-churn-tfstate-${var.project_id}"
    workflows = "\n".join(t for p, t in files.items() if p.startswith(".github/workflows/"))
    assert "bucket=gcp-ads-churn-tfstate-" in workflows and "bucket=google" not in workflows
    assert not consistency_findings(files)
