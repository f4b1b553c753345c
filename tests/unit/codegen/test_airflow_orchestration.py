"""A plan that reuses the team's Airflow: the repository builds what the plan priced and starts it.

Reusing an existing Airflow was a catalog pattern no module built, so the planner passed it over
for Step Functions even when the text said the team's Airflow orchestrates. It now builds the
same training workflow without its schedule, a role the team's Airflow may use to start and watch
it, and the DAG that does so on the plan's cadence.
"""

from __future__ import annotations

import ast
import re

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.build import unix_cron

from services.codegen.airflow_dag import AIRFLOW_PATTERN, dag_path
from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.validators.checks.runner import validate_tree

AIRFLOW = {"cloud": "aws", "regions": ["us-east-2"], "workload_types": ["batch"], "existing_stack": ["airflow"],
           "training_cadence": "daily", "budget_monthly_usd": 3000, "data_classification": "internal"}


def _render(**constraints) -> tuple[dict[str, str], object]:
    c = ConstraintSchema.model_validate(constraints)
    plan = compose_plan(c)
    return render_repository(plan, c, estimate(plan, c), None, [], [], "Propensity scoring", ""), plan


@pytest.fixture(scope="module")
def airflow() -> dict[str, str]:
    files, plan = _render(**AIRFLOW)
    assert plan.component("orchestration").pattern_id == AIRFLOW_PATTERN
    return files


def test_the_dag_starts_the_workflow_on_the_plans_cadence_with_the_inputs_the_workflow_reads(airflow):
    dag = airflow[dag_path("propensity-scoring")]
    ast.parse(dag)
    assert f'schedule="{unix_cron("daily")}"' in dag and "catchup=False" in dag
    # the execution input is what the state machine reads ($.data_uri, $.model_uri), as the schedule's is
    module = airflow["infra/modules/orchestration/main.tf"]
    read = set(re.findall(r'\.\$" += "\$\.([a-z_]+)"', module))  # "DATA_URI.$" = "$.data_uri"
    given = set(re.findall(r'"([a-z_]+)": "\{\{ var\.value\.', dag))
    assert given == read == {"data_uri", "model_uri"}
    # it waits for the run, so a failed training fails the DAG run
    assert "StepFunctionExecutionSensor" in dag and "execution_arn=start.output" in dag


def test_nothing_else_schedules_retraining_and_airflow_gets_a_role_for_this_workflow_only(airflow):
    assert re.search(r'variable "retrain_trigger" \{[^}]*default += "airflow"', airflow["infra/variables.tf"])
    module = airflow["infra/modules/orchestration/main.tf"]
    schedule = module.split('resource "aws_scheduler_schedule" "retrain" {', 1)[1]
    assert schedule.lstrip().startswith('count = var.retrain_trigger == "schedule" ? 1 : 0')
    policy = module.split('resource "aws_iam_role_policy" "airflow" {', 1)[1].split("\n}\n", 1)[0]
    assert '"states:StartExecution"' in policy and "Resource = aws_sfn_state_machine.train.arn" in policy
    assert ":execution:${aws_sfn_state_machine.train.name}:*" in policy and '"*"' not in policy


def test_the_guide_names_outputs_the_stack_has(airflow):
    guide = airflow["docs/README.md"].split("## Retraining from your Airflow", 1)[1]
    outputs = set(re.findall(r'^output "([a-z0-9_]+)"', airflow["infra/outputs.tf"], re.MULTILINE))
    named = set(re.findall(r"`(orchestration_[a-z_]+)`", guide))
    assert named == {"orchestration_state_machine_arn", "orchestration_data_uri", "orchestration_model_uri",
                     "orchestration_airflow_role_arn"}
    assert named <= outputs
    assert dag_path("propensity-scoring") in guide


def test_a_plan_without_airflow_keeps_its_schedule_and_no_dag():
    files, plan = _render(**{**AIRFLOW, "existing_stack": []})
    assert plan.component("orchestration").pattern_id == "aws:orchestration:step-functions"
    assert re.search(r'variable "retrain_trigger" \{[^}]*default += "schedule"', files["infra/variables.tf"])
    assert not any(p.startswith("pipelines/dags/") for p in files)
    assert "Retraining from your Airflow" not in files["docs/README.md"]


@pytest.mark.slow
def test_the_airflow_repository_passes_every_validator(airflow):
    report = validate_tree(airflow, timeout_s=600, terraform=True)
    failed = {t.tool: [f.message for f in t.findings][:3] or t.reason for t in report.tools
              if t.status not in ("pass", "skipped")}
    assert not failed, failed
    assert {t.tool: t.status for t in report.tools}["terraform-validate"] in ("pass", "skipped")
