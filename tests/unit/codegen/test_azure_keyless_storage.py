"""Azure storage without shared keys is reachable by everything that must reach it.

Every generated storage account refuses shared keys. The bootstrap's provider did not sign in to
storage with Entra ID, so its first apply failed reading the new state account's properties
(403 KeyBasedAuthenticationNotPermitted). The plan identity held Reader only, which reads no
storage data and no key Terraform refreshes into state (a cache's keys, a container app's secrets),
so every plan after the first apply failed. And the serving code built the blob endpoint of an
`abfs://` URI from its whole host, so no model was ever read.
"""

from __future__ import annotations

import re

import pytest

from services.codegen.render_text import TEMPLATES
from tests.unit.codegen.conftest import PLANS

AZURE = sorted(name for name in PLANS if name.startswith("azure"))
_KEYLESS = re.compile(r"shared_access_key_enabled\s*=\s*false")


def _roots(files: dict[str, str]) -> dict[str, str]:
    """Each Terraform root of the tree (a directory with a provider block) and its text."""
    roots: dict[str, str] = {}
    for path, text in files.items():
        if path.endswith(".tf") and "/modules/" not in path:
            roots.setdefault(path.rsplit("/", 1)[0], "")
            roots[path.rsplit("/", 1)[0]] += text
    return roots


@pytest.mark.parametrize("name", AZURE)
def test_every_root_that_makes_keyless_storage_signs_in_to_it(rendered, name: str) -> None:
    files = rendered[name]
    modules = "".join(t for p, t in files.items() if "/modules/" in p and p.endswith(".tf"))
    checked = 0
    for root, text in _roots(files).items():
        if 'provider "azurerm"' not in text:
            continue
        keyless = bool(_KEYLESS.search(text)) or (root == "infra" and bool(_KEYLESS.search(modules)))
        if keyless:
            block = text.split('provider "azurerm" {', 1)[1].split("\n}\n", 1)[0]
            assert re.search(r"storage_use_azuread\s*=\s*true", block), root
            checked += 1
    assert checked >= 2  # the bootstrap and the environments' stack


@pytest.mark.parametrize("name", AZURE)
def test_the_plan_identity_may_refresh_what_the_stack_keeps(rendered, name: str) -> None:
    bootstrap = rendered[name]["infra/bootstrap/main.tf"]
    role = bootstrap.split('resource "azurerm_role_definition" "plan_refresh" {', 1)[1].split("\n}\n", 1)[0]
    for action in ("Microsoft.Cache/redis/listKeys/action", "Microsoft.App/containerApps/listSecrets/action",
                   "Microsoft.OperationalInsights/workspaces/sharedKeys/action"):
        assert f'"{action}"' in role
    assert not re.search(r'"\*"|/write"|/delete"', role)  # reads only
    for grant in ("plan_refresh", "plan_data"):
        block = bootstrap.split(f'resource "azurerm_role_assignment" "{grant}" {{', 1)[1].split("\n}\n", 1)[0]
        assert "azurerm_user_assigned_identity.plan[" in block
    plan_data = bootstrap.split('resource "azurerm_role_assignment" "plan_data" {', 1)[1].split("\n}\n", 1)[0]
    assert 'role_definition_name = "Storage Queue Data Reader"' in plan_data
    # A pull request's plan reads no lake data: no blob data role for the plan identities.
    plan_grants = [b for b in bootstrap.split('resource "azurerm_role_assignment" ')[1:]
                   if "azurerm_user_assigned_identity.plan[" in b.split("\n}\n", 1)[0]]
    assert plan_grants and not [b for b in plan_grants if "Blob Data Reader" in b.split("\n}\n", 1)[0]]
    assert 'role_definition_name = "Storage Queue Data Contributor"' in bootstrap


@pytest.mark.parametrize("name", AZURE)
def test_the_deploy_guide_gives_the_administrator_the_data_roles_first(rendered, name: str) -> None:
    guide = rendered[name]["docs/README.md"]
    before = guide.split("terraform apply", 1)[0]
    assert "Storage Blob Data Contributor" in before and "Storage Queue Data Contributor" in before


def test_the_blob_endpoint_is_the_accounts_own() -> None:
    storage = (TEMPLATES / "app" / "services" / "common" / "storage.py.tmpl").read_text(encoding="utf-8")
    container = storage.split("def _azure_container", 1)[1].split("\ndef ", 1)[0]
    assert "_azure_blob_url(uri)" in container and "parsed.netloc" not in container


def test_a_grant_on_a_lake_container_waits_for_the_container() -> None:
    """A role assignment on a scope that does not exist yet is refused: grants on the lake's `models`
    container read the account's id, which the storage module gives out once its containers exist."""
    modules = TEMPLATES / "terraform" / "azure" / "modules"
    scoped = [p.name for p in modules.glob("*.tf")
              if re.search(r'scope\s+= "\$\{var\.storage_account_id\}/blobServices/default/containers/', p.read_text())]
    assert scoped
    storage = (modules / "storage.tf").read_text(encoding="utf-8")
    output = storage.split('output "storage_account_id" {', 1)[1].split("\n}\n", 1)[0]
    assert "depends_on  = [azurerm_storage_container.zones]" in output
