"""No module reads, while planning, what the same apply creates.

A data source whose arguments are known when planning is read then, even where what it names is
created later in the same apply. The Azure monitoring module looked up the environment's resource
group by the name the root gives it, and the root creates that group: on an environment's first plan
the group did not exist, so that plan (and the first deploy) failed. A module takes what the stack
creates as an input (its id) instead.
"""

from __future__ import annotations

import re

import pytest

from tests.unit.codegen.conftest import PLANS

_MODULE = re.compile(r'^module "([a-z0-9_]+)" \{\n  source\s*= "\./modules/([a-z0-9_]+)"\n(.*?)^\}\n',
                     re.MULTILINE | re.DOTALL)
_ARG = re.compile(r"^  ([a-z0-9_]+)\s*= (.+)$", re.MULTILINE)
_DATA = re.compile(r'^data "([a-z0-9_]+)" "([a-z0-9_]+)" \{\n(.*?)^\}\n', re.MULTILINE | re.DOTALL)
#: A managed resource of the root (`azurerm_resource_group.main.name`) or another module's output.
_CREATED = re.compile(r"^(?:(?!data\.|var\.|local\.)[a-z][a-z0-9]*_[a-z0-9_]+\.[a-z0-9_]+\.|module\.)")


def planned_reads_of_created(files: dict[str, str]) -> list[tuple[str, str, str]]:
    """(module, data source, input) where a module's data source is keyed by what the stack creates."""
    root = files["infra/main.tf"]
    found = []
    for call, source, body in _MODULE.findall(root):
        created = {name for name, expr in _ARG.findall(body) if _CREATED.match(expr.strip())}
        text = files.get(f"infra/modules/{source}/main.tf", "")
        for kind, label, block in _DATA.findall(text):
            for name in sorted(set(re.findall(r"\bvar\.([a-z0-9_]+)", block)) & created):
                found.append((call, f"{kind}.{label}", name))
    return found


@pytest.mark.parametrize("name", sorted(PLANS))
def test_no_module_looks_up_what_the_stack_creates(rendered, name: str) -> None:
    assert not planned_reads_of_created(rendered[name])


def test_the_rule_finds_a_lookup_of_the_roots_resource_group() -> None:
    files = {"infra/main.tf": 'resource "azurerm_resource_group" "main" {\n  name = "x"\n}\n'
                              'module "monitoring" {\n  source = "./modules/monitoring"\n\n'
                              "  resource_group_name = azurerm_resource_group.main.name\n  region = var.region\n}\n",
             "infra/modules/monitoring/main.tf": 'data "azurerm_resource_group" "this" {\n'
                                                 "  name = var.resource_group_name\n}\n"}
    assert planned_reads_of_created(files) == [("monitoring", "azurerm_resource_group.this", "resource_group_name")]
