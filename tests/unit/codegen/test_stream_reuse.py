"""A plan whose team already runs its event stream consumes that stream, on every cloud.

With Kinesis, Event Hubs or Pub/Sub in the existing stack, the plan built (and priced) a second
stream beside the team's, and its consumer read the new, empty one. Each cloud's `*-existing`
ingest pattern reads the team's stream by name or id instead, from a repository variable every
workflow's plan passes: the consumer, its grants and the alarms are wired to it as to a stream the
repository makes, and only what this system adds to it is priced.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from amp_contracts import ConstraintSchema

from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.validators.checks.names import consistency_findings
from services.validators.checks.runner import validate_tree
from services.validators.checks.terraform_validate import terraform_binary


@dataclass(frozen=True)
class Reuse:
    """One cloud's stream reuse: what the plan reads, how CI names it, what the consumer is wired to."""

    cloud: str
    region: str
    tool: str  # the existing_stack id
    pattern: str
    made: str  # the pattern the plan builds without the team's stream
    variable: str  # root variable
    ci_variable: str  # repository variable the workflows pass
    read: str  # the data source that reads the team's stream
    built: str  # the resource of the stream the plan would make
    wiring: tuple[str, ...]  # consumer inputs wired from the ingest module, as `input=output`
    guide: str  # what the guide's line for the variable must say
    priced: str | None  # the only priced line's text, or None when nothing is priced


REUSES = {
    "kinesis": Reuse("aws", "ap-southeast-2", "kinesis", "aws:ingest_stream:kinesis-existing",
                     "aws:ingest_stream:kinesis-data-streams", "existing_stream_name", "KINESIS_STREAM_NAME",
                     'data "aws_kinesis_stream" "events"', 'resource "aws_kinesis_stream" "events"',
                     ("stream_arn=stream_arn",), "decrypt", "read by this system"),
    "event-hubs": Reuse("azure", "westeurope", "event-hubs", "azure:ingest_stream:event-hubs-existing",
                        "azure:ingest_stream:event-hubs", "existing_eventhub_id", "EVENTHUB_ID",
                        'data "azurerm_eventhub" "events"', 'resource "azurerm_eventhub_namespace" "events"',
                        ("eventhub_name=eventhub_name", "eventhub_id=eventhub_id",
                         "eventhub_consumer_group=consumer_group_name"), "Data Receiver", None),
    "pubsub": Reuse("gcp", "europe-west1", "pubsub", "gcp:ingest_stream:pubsub-existing", "gcp:ingest_stream:pubsub",
                    "existing_topic_id", "PUBSUB_TOPIC", 'data "google_pubsub_topic" "events"',
                    'resource "google_pubsub_topic" "events"', ("topic_id=topic_id",), "roles/pubsub.subscriber",
                    "delivered to this system's subscription"),
}
#: Ids the module must split, and ids of another shape its precondition must refuse.
ID_SHAPES = {
    "event-hubs": ("/subscriptions/0000/resourceGroups/team-rg/providers/Microsoft.EventHub/namespaces/team-ns/"
                   "eventhubs/tx", ["team-rg", "team-ns", "tx"], "hub_path", (4, 8, 10),
                   ("team-ns/tx", "/subscriptions/0000/resourceGroups/team-rg/providers/Microsoft.EventHub/"
                    "namespaces/team-ns/eventhubs/tx/consumergroups/x")),
    "pubsub": ("projects/team-p/topics/events", ["team-p", "events"], "topic_path", (1, 3),
               ("events", "projects/team-p/subscriptions/events")),
}


def _render(reuse: Reuse, existing: bool):
    c = ConstraintSchema(cloud=reuse.cloud, regions=[reuse.region], workload_types=["streaming"], throughput_rps=3000,
                         budget_monthly_usd=12000, data_classification="internal",
                         existing_stack=[reuse.tool] if existing else [])
    plan = compose_plan(c)
    cost = estimate(plan, c)
    return render_repository(plan, c, cost, None, [], [], "Event scoring", ""), plan, cost


@pytest.fixture(scope="module", params=sorted(REUSES))
def reused(request):
    reuse = REUSES[request.param]
    return reuse, *_render(reuse, existing=True)


def test_the_teams_stream_is_read_not_built(reused):
    reuse, files, plan, cost = reused
    assert plan.component("ingest_stream").pattern_id == reuse.pattern
    infra = "\n".join(t for p, t in files.items() if p.startswith("infra/") and p.endswith(".tf"))
    assert reuse.built not in infra
    assert reuse.read in files["infra/modules/ingest_stream/main.tf"]
    consumer = files["infra/main.tf"].split('module "stream_processing" {', 1)[1].split("\n}\n", 1)[0]
    for pair in reuse.wiring:
        var, output = pair.split("=")
        assert re.search(rf"^  {var} += module\.ingest_stream\.{output}$", consumer, re.MULTILINE), var
    # the consumer's reading of the stream is counted in (a `wired_` flag is known while planning)
    assert any(re.search(rf"^  wired_{pair.split('=')[0]} += true$", consumer, re.MULTILINE) for pair in reuse.wiring)
    priced = [b.qty for b in cost.breakdown if b.component == reuse.pattern]
    assert priced == [] if reuse.priced is None else (len(priced) == 1 and reuse.priced in priced[0])


def test_every_plan_is_given_the_streams_name(reused):
    reuse, files, _, _ = reused
    declared = files["infra/variables.tf"].split(f'variable "{reuse.variable}" {{', 1)[1].split("\n}\n", 1)[0]
    assert "type        = string" in declared and "default" not in declared
    plans = [line for p, t in files.items() if p.startswith(".github/workflows/")
             for line in t.splitlines() if re.match(r"^\s*(?:run:\s*)?terraform(?: -chdir=\S+)? plan\s", line)]
    assert plans and all(f'-var "{reuse.variable}=${{{{ vars.{reuse.ci_variable} }}}}"' in line for line in plans)
    assert not consistency_findings(files)
    line = next(x for x in files["docs/README.md"].splitlines() if x.startswith(f"- `{reuse.ci_variable}`"))
    assert reuse.guide in line


@pytest.mark.parametrize("name", sorted(REUSES))
def test_without_a_stream_of_its_own_the_plan_makes_one(name: str):
    reuse = REUSES[name]
    files, plan, _ = _render(reuse, existing=False)
    assert plan.component("ingest_stream").pattern_id == reuse.made
    assert reuse.built in files["infra/modules/ingest_stream/main.tf"]
    assert reuse.variable not in files["infra/variables.tf"]
    assert reuse.ci_variable not in files["docs/README.md"]


def _terraform_outputs(terraform: str, root: Path) -> dict:
    for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
        done = subprocess.run([terraform, *args], cwd=root, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    shown = subprocess.run([terraform, "output", "-json"], cwd=root, check=True, capture_output=True, text=True,
                           timeout=60)
    return {k: v["value"] for k, v in json.loads(shown.stdout).items()}


@pytest.mark.parametrize("name", sorted(ID_SHAPES))
def test_the_streams_id_is_read_apart_in_terraform(name: str, tmp_path: Path):
    """Terraform itself splits the id the module reads, and its precondition refuses one of another shape."""
    terraform = terraform_binary()
    if terraform is None:
        pytest.skip("the Terraform CLI is not installed")
    reuse = REUSES[name]
    good, parts, local, indexes, bad = ID_SHAPES[name]
    module = _render(reuse, existing=True)[0]["infra/modules/ingest_stream/main.tf"]
    locals_block = module.split("locals {", 1)[1].split("\n}\n", 1)[0]
    condition = re.search(r"condition\s+=\s+(.+)", module).group(1)
    picked = ", ".join(f'try(local.{local}[{i}], "")' for i in indexes)
    for value, ok in ((good, True), *((b, False) for b in bad)):
        (tmp_path / "main.tf").write_text(
            f'variable "{reuse.variable}" {{\n  default = "{value}"\n}}\n'
            f"locals {{{locals_block}\n}}\n"
            f'output "ok" {{\n  value = {condition}\n}}\n'
            f'output "parts" {{\n  value = [{picked}]\n}}\n', encoding="utf-8")
        shown = _terraform_outputs(terraform, tmp_path)
        assert shown["ok"] is ok, value
        if ok:
            assert shown["parts"] == parts


@pytest.mark.slow
def test_the_repository_passes_every_validator(reused):
    report = validate_tree(reused[1], timeout_s=600, terraform=True)
    failed = {t.tool: [f.message for f in t.findings][:3] or t.reason for t in report.tools
              if t.status not in ("pass", "skipped")}
    assert not failed, failed
