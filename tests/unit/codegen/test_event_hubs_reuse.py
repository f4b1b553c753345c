"""A plan whose team already sends its events to an event hub consumes that hub.

With Event Hubs in the existing stack, the plan built (and priced) a second namespace and hub
beside the team's, and its stream job read the new, empty one. `azure:ingest_stream:event-hubs-existing`
reads the team's hub by resource id instead, through a consumer group of this system's own: the
job's input and its receive grant are wired to it as to a hub the repository makes, and the
workflows pass its id to every plan.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from amp_contracts import ConstraintSchema

from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.validators.checks.names import consistency_findings
from services.validators.checks.runner import validate_tree
from services.validators.checks.terraform_validate import terraform_binary

STREAMING = {"cloud": "azure", "regions": ["westeurope"], "workload_types": ["streaming"], "throughput_rps": 3000,
             "budget_monthly_usd": 12000, "data_classification": "pci"}
PATTERN = "azure:ingest_stream:event-hubs-existing"


def _render(**extra):
    c = ConstraintSchema.model_validate({**STREAMING, **extra})
    plan = compose_plan(c)
    cost = estimate(plan, c)
    return render_repository(plan, c, cost, None, [], [], "Card fraud scoring", ""), plan, cost


@pytest.fixture(scope="module")
def reused():
    return _render(existing_stack=["event-hubs"])


def test_the_teams_hub_is_read_not_built(reused):
    files, plan, cost = reused
    assert plan.component("ingest_stream").pattern_id == PATTERN
    infra = "\n".join(t for p, t in files.items() if p.startswith("infra/") and p.endswith(".tf"))
    assert 'resource "azurerm_eventhub_namespace"' not in infra and 'resource "azurerm_eventhub" ' not in infra
    module = files["infra/modules/ingest_stream/main.tf"]
    assert 'data "azurerm_eventhub" "events"' in module
    assert 'resource "azurerm_eventhub_consumer_group" "scoring"' in module  # a reader of its own
    job = files["infra/main.tf"].split('module "stream_processing" {', 1)[1].split("\n}\n", 1)[0]
    for var, output in (("eventhub_name", "eventhub_name"), ("eventhub_id", "eventhub_id"),
                        ("eventhub_consumer_group", "consumer_group_name")):
        assert re.search(rf"^  {var} += module\.ingest_stream\.{output}$", job, re.MULTILINE), var
    assert [b for b in cost.breakdown if b.component == PATTERN] == []  # the team's hub, its bill


def test_every_plan_is_given_the_hubs_id(reused):
    files, _, _ = reused
    declared = files["infra/variables.tf"].split('variable "existing_eventhub_id" {', 1)[1].split("\n}\n", 1)[0]
    assert "type        = string" in declared and "default" not in declared
    plans = [line for p, t in files.items() if p.startswith(".github/workflows/")
             for line in t.splitlines() if re.match(r"^\s*(?:run:\s*)?terraform(?: -chdir=\S+)? plan\s", line)]
    assert plans and all('-var "existing_eventhub_id=${{ vars.EVENTHUB_ID }}"' in line for line in plans)
    assert not consistency_findings(files)
    line = next(x for x in files["docs/README.md"].splitlines() if x.startswith("- `EVENTHUB_ID`"))
    assert "consumer group" in line and "Data Receiver" in line


def test_the_hubs_id_is_read_apart_in_terraform(reused, tmp_path):
    """Terraform itself splits the id the module reads, and its precondition refuses one that names no hub."""
    terraform = terraform_binary()
    if terraform is None:
        pytest.skip("the Terraform CLI is not installed")
    module = reused[0]["infra/modules/ingest_stream/main.tf"]
    locals_block = module.split("locals {", 1)[1].split("\n}\n", 1)[0]
    condition = re.search(r"condition\s+=\s+(.+)", module).group(1)
    hub = "/subscriptions/0000/resourceGroups/team-rg/providers/Microsoft.EventHub/namespaces/team-ns/eventhubs/tx"
    for value, ok in ((hub, True), ("team-ns/tx", False), (hub + "/consumergroups/x", False)):
        (tmp_path / "main.tf").write_text(
            f'variable "existing_eventhub_id" {{\n  default = "{value}"\n}}\n'
            f"locals {{{locals_block}\n}}\n"
            f'output "ok" {{\n  value = {condition}\n}}\n'
            'output "parts" {\n  value = length(local.hub_path) > 10 ? [local.hub_path[4], local.hub_path[8], '
            'local.hub_path[10]] : []\n}\n', encoding="utf-8")
        for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
            done = subprocess.run([terraform, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-2000:]
        shown = json.loads(subprocess.run([terraform, "output", "-json"], cwd=tmp_path, check=True,
                                          capture_output=True, text=True, timeout=60).stdout)
        assert shown["ok"]["value"] is ok, value
        if ok:
            assert shown["parts"]["value"] == ["team-rg", "team-ns", "tx"]


def test_without_a_hub_of_its_own_the_plan_makes_one():
    files, plan, _ = _render()
    assert plan.component("ingest_stream").pattern_id == "azure:ingest_stream:event-hubs"
    assert 'resource "azurerm_eventhub_namespace" "events"' in files["infra/modules/ingest_stream/main.tf"]
    assert "existing_eventhub_id" not in files["infra/variables.tf"]
    assert "EVENTHUB_ID" not in files["docs/README.md"]


@pytest.mark.slow
def test_the_repository_passes_every_validator(reused):
    report = validate_tree(reused[0], timeout_s=600, terraform=True)
    failed = {t.tool: [f.message for f in t.findings][:3] or t.reason for t in report.tools
              if t.status not in ("pass", "skipped")}
    assert not failed, failed
