"""A plan that reuses the team's Airflow: the repository builds what the plan priced and starts it.

Reusing an existing Airflow was a catalog pattern no module built, so the planner passed it over
for the cloud's own scheduler even when the text said the team's Airflow orchestrates. It now
builds the same training workflow without its schedule, an identity the team's Airflow may use
where the cloud allows one, and the DAG that starts it on the plan's cadence.
"""

from __future__ import annotations

import ast
import re

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.build import unix_cron

from services.codegen.airflow_dag import dag_path
from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.validators.checks.runner import validate_tree

REGIONS = {"aws": "us-east-2", "gcp": "europe-west4", "azure": "westeurope"}
#: The resource that starts retraining on a schedule, per cloud.
SCHEDULES = {"aws": "aws_scheduler_schedule", "gcp": "google_cloud_scheduler_job",
             "azure": "azurerm_data_factory_trigger_schedule"}
#: The Airflow operator arguments that must carry the inputs the workflow reads, per cloud.
INPUTS = {"aws": "state_machine_input", "azure": "parameters"}


def _render(cloud: str, **extra) -> tuple[dict[str, str], object]:
    c = ConstraintSchema.model_validate({
        "cloud": cloud, "regions": [REGIONS[cloud]], "workload_types": ["batch"], "existing_stack": ["airflow"],
        "training_cadence": "daily", "budget_monthly_usd": 3000, "data_classification": "internal", **extra})
    plan = compose_plan(c)
    return render_repository(plan, c, estimate(plan, c), None, [], [], "Propensity scoring", ""), plan


@pytest.fixture(scope="module", params=list(REGIONS))
def airflow(request) -> tuple[str, dict[str, str]]:
    files, plan = _render(request.param)
    assert plan.component("orchestration").pattern_id == f"{request.param}:orchestration:airflow-existing"
    return request.param, files


def test_the_dag_starts_the_workflow_on_the_plans_cadence(airflow):
    cloud, files = airflow
    dag = files[dag_path("propensity-scoring")]
    ast.parse(dag)
    assert f'schedule="{unix_cron("daily")}"' in dag and "catchup=False" in dag and "max_active_runs=1" in dag
    # every value it needs is an Airflow Variable or the connection the guide names
    guide = files["docs/README.md"].split("## Retraining from your Airflow", 1)[1]
    for variable in set(re.findall(r"var\.value\.([a-z_]+)", dag)):
        assert f"`{variable}`" in guide, variable
    assert re.search(r'CONNECTION = "([a-z_]+)"', dag).group(1) in guide
    assert "| `dags/` |" in files["README.md"]


@pytest.mark.parametrize("cloud", list(INPUTS))
def test_the_dag_gives_the_workflow_the_inputs_it_reads(cloud):
    files, _ = _render(cloud)
    dag, module = files[dag_path("propensity-scoring")], files["infra/modules/orchestration/main.tf"]
    given = set(re.findall(r'"([a-z_]+)": "\{\{ var\.value\.', dag.split(f"{INPUTS[cloud]}=", 1)[1]))
    if cloud == "aws":  # "DATA_URI.$" = "$.data_uri"
        read = set(re.findall(r'\.\$" += "\$\.([a-z_]+)"', module))
    else:  # the pipeline's parameters
        read = set(re.findall(r"^    ([a-z_]+) += \"\"$", module.split("parameters = {", 1)[1].split("}", 1)[0],
                              re.MULTILINE))
    assert given == read == {"data_uri", "model_uri"}


def test_the_google_cloud_dag_runs_the_workflow_with_the_schedules_argument():
    files, _ = _render("gcp")
    dag, module = files[dag_path("propensity-scoring")], files["infra/modules/orchestration/main.tf"]
    assert 'execution={"argument": "{{ var.value.propensity_scoring_execution_argument }}"}' in dag
    outputs = files["infra/modules/orchestration/outputs.tf"]
    assert 'output "execution_argument" {' in outputs and "value       = local.argument" in outputs
    assert "body        = base64encode(jsonencode({ argument = local.argument }))" in module


def test_nothing_else_schedules_retraining(airflow):
    cloud, files = airflow
    assert re.search(r'variable "retrain_trigger" \{[^}]*default += "airflow"', files["infra/variables.tf"])
    module = files["infra/modules/orchestration/main.tf"]
    schedule = module.split(f'resource "{SCHEDULES[cloud]}" "retrain" {{', 1)[1]
    assert schedule.lstrip().startswith('count = var.retrain_trigger == "schedule" ? 1 : 0')
    assert f"from = {SCHEDULES[cloud]}.retrain\n  to   = {SCHEDULES[cloud]}.retrain[0]" in module


def test_the_identity_airflow_gets_may_start_this_workflow_only():
    aws, _ = _render("aws")
    policy = aws["infra/modules/orchestration/main.tf"].split('resource "aws_iam_role_policy" "airflow" {', 1)[1]
    policy = policy.split("\n}\n", 1)[0]
    assert '"states:StartExecution"' in policy and "Resource = aws_sfn_state_machine.train.arn" in policy
    assert ":execution:${aws_sfn_state_machine.train.name}:*" in policy and '"*"' not in policy
    gcp, _ = _render("gcp")
    grant = gcp["infra/modules/orchestration/main.tf"].split('resource "google_project_iam_member" "airflow" {', 1)[1]
    assert 'role    = "roles/workflows.invoker"' in grant.split("\n}\n", 1)[0]


def test_the_guide_names_outputs_the_stack_has(airflow):
    _, files = airflow
    guide = files["docs/README.md"].split("## Retraining from your Airflow", 1)[1]
    outputs = set(re.findall(r'^output "([a-z0-9_]+)"', files["infra/outputs.tf"], re.MULTILINE))
    named = set(re.findall(r"`(orchestration_[a-z_]+)`", guide))
    assert len(named) >= 3 and named <= outputs, named - outputs
    assert dag_path("propensity-scoring") in guide


@pytest.mark.parametrize("cloud", list(REGIONS))
def test_a_plan_without_airflow_keeps_its_schedule_and_no_dag(cloud):
    files, plan = _render(cloud, existing_stack=[])
    assert "airflow" not in plan.component("orchestration").pattern_id
    assert re.search(r'variable "retrain_trigger" \{[^}]*default += "schedule"', files["infra/variables.tf"])
    assert not any(p.startswith("dags/") for p in files) and "`dags/`" not in files["README.md"]
    assert "Retraining from your Airflow" not in files["docs/README.md"]


@pytest.mark.slow
def test_the_airflow_repository_passes_every_validator(airflow):
    _, files = airflow
    report = validate_tree(files, timeout_s=600, terraform=True)
    failed = {t.tool: [f.message for f in t.findings][:3] or t.reason for t in report.tools
              if t.status not in ("pass", "skipped")}
    assert not failed, failed
