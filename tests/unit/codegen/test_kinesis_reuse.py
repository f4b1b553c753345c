"""A plan whose team already runs a Kinesis data stream consumes that stream.

With "Kinesis" in the existing stack, the plan built (and priced) a second on-demand stream beside
the team's, and its consumer read the new, empty one. `aws:ingest_stream:kinesis-existing` reads
the team's stream by name instead: the consumer, its permissions and the alarms are wired to it as
to a stream the repository makes, and the workflows pass its name to every plan.
"""

from __future__ import annotations

import re

import pytest
from amp_contracts import ConstraintSchema

from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.validators.checks.names import consistency_findings
from services.validators.checks.runner import validate_tree

STREAMING = {"cloud": "aws", "regions": ["ap-southeast-2"], "workload_types": ["streaming"], "throughput_rps": 800,
             "budget_monthly_usd": 9000, "data_classification": "internal"}
PATTERN = "aws:ingest_stream:kinesis-existing"


def _render(**extra):
    c = ConstraintSchema.model_validate({**STREAMING, **extra})
    plan = compose_plan(c)
    cost = estimate(plan, c)
    return render_repository(plan, c, cost, None, [], [], "Clickstream scoring", ""), plan, cost


@pytest.fixture(scope="module")
def reused():
    return _render(existing_stack=["kinesis"])


def test_the_teams_stream_is_read_not_built(reused):
    files, plan, cost = reused
    assert plan.component("ingest_stream").pattern_id == PATTERN
    infra = "\n".join(t for p, t in files.items() if p.startswith("infra/") and p.endswith(".tf"))
    assert 'resource "aws_kinesis_stream"' not in infra
    module = files["infra/modules/ingest_stream/main.tf"]
    assert 'data "aws_kinesis_stream" "events" {\n  name = var.existing_stream_name\n}' in module
    # the consumer reads it, as it would read a stream made here
    main = files["infra/main.tf"]
    consumer = main.split('module "stream_processing" {', 1)[1].split("\n}\n", 1)[0]
    assert re.search(r"^  stream_arn += module\.ingest_stream\.stream_arn$", consumer, re.MULTILINE)
    assert re.search(r"^  wired_stream_arn += true$", consumer, re.MULTILINE)
    # only this system's reads of it are priced
    priced = [b.service for b in cost.breakdown if b.component == PATTERN]
    assert priced == ["Kinesis on-demand retrieval"]


def test_every_plan_is_given_the_streams_name(reused):
    files, _, _ = reused
    declared = files["infra/variables.tf"].split('variable "existing_stream_name" {', 1)[1].split("\n}\n", 1)[0]
    assert "type        = string" in declared and "default" not in declared
    plans = [line for p, t in files.items() if p.startswith(".github/workflows/")
             for line in t.splitlines() if re.match(r"^\s*(?:run:\s*)?terraform(?: -chdir=\S+)? plan\s", line)]
    assert plans and all('-var "existing_stream_name=${{ vars.KINESIS_STREAM_NAME }}"' in line for line in plans)
    assert not consistency_findings(files)
    assert "`KINESIS_STREAM_NAME`" in files["docs/README.md"]


def test_without_a_stream_of_its_own_the_plan_makes_one():
    files, plan, _ = _render()
    assert plan.component("ingest_stream").pattern_id == "aws:ingest_stream:kinesis-data-streams"
    assert 'resource "aws_kinesis_stream" "events"' in files["infra/modules/ingest_stream/main.tf"]
    assert "existing_stream_name" not in files["infra/variables.tf"]
    assert "KINESIS_STREAM_NAME" not in files["docs/README.md"]


@pytest.mark.slow
def test_the_repository_passes_every_validator(reused):
    report = validate_tree(reused[0], timeout_s=600, terraform=True)
    failed = {t.tool: [f.message for f in t.findings][:3] or t.reason for t in report.tools
              if t.status not in ("pass", "skipped")}
    assert not failed, failed
