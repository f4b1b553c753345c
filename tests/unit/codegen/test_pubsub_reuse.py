"""A plan whose team already publishes its events to a Pub/Sub topic consumes that topic.

With Pub/Sub in the existing stack, the plan built (and priced) a second topic beside the team's,
and its push consumer subscribed to the new, empty one. `gcp:ingest_stream:pubsub-existing` reads
the team's topic by id instead: the consumer's subscription, its dead-lettering and the alerts on
them are wired to it as to a topic the repository makes, and the workflows pass its id to every plan.
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

STREAMING = {"cloud": "gcp", "regions": ["europe-west1"], "workload_types": ["streaming"], "throughput_rps": 5000,
             "budget_monthly_usd": 9000, "data_classification": "internal"}
PATTERN = "gcp:ingest_stream:pubsub-existing"


def _render(**extra):
    c = ConstraintSchema.model_validate({**STREAMING, **extra})
    plan = compose_plan(c)
    cost = estimate(plan, c)
    return render_repository(plan, c, cost, None, [], [], "Sensor anomalies", ""), plan, cost


@pytest.fixture(scope="module")
def reused():
    return _render(existing_stack=["pubsub"])


def test_the_teams_topic_is_read_not_built(reused):
    files, plan, cost = reused
    assert plan.component("ingest_stream").pattern_id == PATTERN
    module = files["infra/modules/ingest_stream/main.tf"]
    assert 'data "google_pubsub_topic" "events"' in module
    assert 'resource "google_pubsub_topic" "events"' not in module
    assert 'resource "google_pubsub_topic" "dead_letter"' in module  # what the consumer gives up on stays here
    consumer = files["infra/main.tf"].split('module "stream_processing" {', 1)[1].split("\n}\n", 1)[0]
    assert re.search(r"^  topic_id += module\.ingest_stream\.topic_id$", consumer, re.MULTILINE)
    assert re.search(r"^  wired_topic_id += true$", consumer, re.MULTILINE)
    priced = [b.qty for b in cost.breakdown if b.component == PATTERN]
    assert len(priced) == 1 and "delivered to this system's subscription" in priced[0]
    built = _render()[2]
    made = next(b.usd for b in built.breakdown if b.component == "gcp:ingest_stream:pubsub")
    assert next(b.usd for b in cost.breakdown if b.component == PATTERN) < made  # publishing is the team's


def test_every_plan_is_given_the_topics_id(reused):
    files, _, _ = reused
    declared = files["infra/variables.tf"].split('variable "existing_topic_id" {', 1)[1].split("\n}\n", 1)[0]
    assert "type        = string" in declared and "default" not in declared
    plans = [line for p, t in files.items() if p.startswith(".github/workflows/")
             for line in t.splitlines() if re.match(r"^\s*(?:run:\s*)?terraform(?: -chdir=\S+)? plan\s", line)]
    assert plans and all('-var "existing_topic_id=${{ vars.PUBSUB_TOPIC }}"' in line for line in plans)
    assert not consistency_findings(files)
    line = next(x for x in files["docs/README.md"].splitlines() if x.startswith("- `PUBSUB_TOPIC`"))
    assert "roles/pubsub.subscriber" in line


def test_the_topics_id_is_read_apart_in_terraform(reused, tmp_path):
    terraform = terraform_binary()
    if terraform is None:
        pytest.skip("the Terraform CLI is not installed")
    module = reused[0]["infra/modules/ingest_stream/main.tf"]
    locals_block = module.split("locals {", 1)[1].split("\n}\n", 1)[0]
    condition = re.search(r"condition\s+=\s+(.+)", module).group(1)
    for value, ok in (("projects/team-p/topics/events", True), ("events", False),
                      ("projects/team-p/subscriptions/events", False)):
        (tmp_path / "main.tf").write_text(
            f'variable "existing_topic_id" {{\n  default = "{value}"\n}}\n'
            f"locals {{{locals_block}\n}}\n"
            f'output "ok" {{\n  value = {condition}\n}}\n'
            'output "parts" {\n  value = [try(local.topic_path[1], ""), try(local.topic_path[3], "")]\n}\n',
            encoding="utf-8")
        for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
            done = subprocess.run([terraform, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-2000:]
        shown = json.loads(subprocess.run([terraform, "output", "-json"], cwd=tmp_path, check=True,
                                          capture_output=True, text=True, timeout=60).stdout)
        assert shown["ok"]["value"] is ok, value
        if ok:
            assert shown["parts"]["value"] == ["team-p", "events"]


def test_without_a_topic_of_its_own_the_plan_makes_one():
    files, plan, _ = _render()
    assert plan.component("ingest_stream").pattern_id == "gcp:ingest_stream:pubsub"
    assert 'resource "google_pubsub_topic" "events"' in files["infra/modules/ingest_stream/main.tf"]
    assert "existing_topic_id" not in files["infra/variables.tf"]
    assert "PUBSUB_TOPIC" not in files["docs/README.md"]


@pytest.mark.slow
def test_the_repository_passes_every_validator(reused):
    report = validate_tree(reused[0], timeout_s=600, terraform=True)
    failed = {t.tool: [f.message for f in t.findings][:3] or t.reason for t in report.tools
              if t.status not in ("pass", "skipped")}
    assert not failed, failed
