"""Google Cloud service account ids, as Terraform computes them from each module's own `locals`.

An id holds 6 to 30 characters (a lower-case letter first, no trailing hyphen) and must be unique
in its project. The modules cut `<name_prefix>-<role>-<region>` at 30 characters: with a long
project name the cut removed the role, so every module's accounts of an environment had one id,
and a cut could end on a hyphen. Terraform itself evaluates the modules' expressions here, over
the longest names the platform makes and every region shape.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from services.codegen.render_text import TEMPLATES, slugify
from services.validators.checks.terraform_validate import terraform_binary

MODULES = TEMPLATES / "terraform" / "gcp" / "modules"
_ACCOUNT_LOCALS = re.compile(r"^locals \{\n  account_names = \{\n.*?\n\}\n", re.MULTILINE | re.DOTALL)
_VALID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
#: The longest slug `slugify` makes, in every environment; short ones; the longest regions.
PREFIXES = [f"{slugify('x' * 40)}-{env}" for env in ("dev", "staging", "prod")] + [
    "ab-dev", "fraud-scoring-prod", "a-very-long-project-nam-staging", "churn-staging"]
REGIONS = ["us-east1", "europe-west4", "northamerica-northeast1", "me-central2"]


def _templates() -> dict[str, str]:
    found = {}
    for path in sorted(MODULES.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        if 'resource "google_service_account"' in text:
            found[path.name] = text
    return found


def test_every_module_account_takes_its_id_from_the_shared_rule():
    for name, text in _templates().items():
        assert _ACCOUNT_LOCALS.search(text), name
        assert text.count("account_id   = local.account_ids[") == text.count('resource "google_service_account"'), name


def test_ids_are_valid_and_unique_in_a_project_for_long_names_and_every_region(tmp_path):
    terraform = terraform_binary()
    if terraform is None:
        pytest.skip("the Terraform CLI is not installed")
    cases = {f"c{i}": {"p": p, "r": r} for i, (p, r) in enumerate((p, r) for p in PREFIXES for r in REGIONS)}
    assert max(len(c["p"]) for c in cases.values()) >= 31
    root = tmp_path / "root"
    for name, text in _templates().items():
        module = root / name.removesuffix(".tf").replace("@", "_")
        module.mkdir(parents=True)
        (module / "main.tf").write_text(
            'variable "name_prefix" {}\nvariable "region" {}\n' + _ACCOUNT_LOCALS.search(text).group(0)
            + 'output "ids" {\n  value = local.account_ids\n}\n', encoding="utf-8")
    calls = "".join(f'module "{m.name}" {{\n  source      = "./{m.name}"\n  for_each    = local.cases\n'
                    f'  name_prefix = each.value.p\n  region      = each.value.r\n}}\n' for m in root.iterdir())
    outputs = "".join(f'output "{m.name}" {{\n  value = {{ for k, v in module.{m.name} : k => v.ids }}\n}}\n'
                      for m in root.iterdir())
    (root / "main.tf").write_text(f"locals {{\n  cases = jsondecode({json.dumps(json.dumps(cases))})\n}}\n"
                                  + calls + outputs, encoding="utf-8")
    for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
        subprocess.run([terraform, *args], cwd=root, check=True, capture_output=True, timeout=300)
    shown = json.loads(subprocess.run([terraform, "output", "-json"], cwd=root, check=True, capture_output=True,
                                      timeout=120).stdout)
    for case, given in cases.items():
        ids = [(module, role, i) for module, out in shown.items() for role, i in out["value"][case].items()]
        assert len(ids) >= 9
        bad = [x for x in ids if not _VALID.match(x[2])]
        assert not bad, (given, bad)
        assert len({i for _m, _r, i in ids}) == len(ids), (given, ids)
    # each project (prefix) keeps distinct ids per region wherever a module's account is regional
    for prefix in PREFIXES:
        regional = [i for case, given in cases.items() if given["p"] == prefix
                    for i in shown["serving_batch"]["value"][case].values()]
        assert len(set(regional)) == len(regional), prefix
