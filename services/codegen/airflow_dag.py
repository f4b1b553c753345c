"""The DAG that starts retraining from the team's own Airflow, where the plan reuses it.

A plan that reuses an existing Airflow (`aws:orchestration:airflow-existing`) builds the same
training workflow as Step Functions' pattern, without its schedule (`retrain_trigger = "airflow"`):
the team's Airflow starts it, on the plan's cadence, through a role the orchestration module makes
for it. The DAG is generated here so that what was planned is what runs: a scheduler the team
already operates, watching each run to its end, so a failed training run fails the DAG run too.
"""

from __future__ import annotations

import textwrap

from amp_contracts import Plan
from amp_domain.build import unix_cron

#: The pattern whose orchestration is the team's Airflow.
AIRFLOW_PATTERN = "aws:orchestration:airflow-existing"


def airflow_orchestrated(plan: Plan) -> bool:
    return any(c.pattern_id == AIRFLOW_PATTERN for c in plan.components)


def dag_path(slug: str) -> str:
    return f"pipelines/dags/{slug.replace('-', '_')}_retrain.py"


def render_dag(slug: str, cadence: str | None) -> dict[str, str]:
    """`pipelines/dags/<project>_retrain.py`: start the workflow, then wait for it to finish."""
    name = slug.replace("-", "_")
    text = f'''"""Retraining of {slug}, started by the team's Airflow (generated with the repository).

Install this file in the Airflow's DAG folder, then set, from `terraform output` of the environment
it should train (see docs/README.md, "Retraining from your Airflow"):

- Variables `{name}_state_machine_arn`,
  `{name}_data_uri` and `{name}_model_uri`;
- a connection `{name}_aws` of type Amazon Web Services whose extra is
  `{{"role_arn": "<orchestration_airflow_role_arn>", "region_name": "<region>"}}`:
  the role may start and watch this workflow only.

The workflow trains on the data, registers the model version for approval, and fails the DAG run
when training fails.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator
from airflow.providers.amazon.aws.sensors.step_function import StepFunctionExecutionSensor

CONNECTION = "{name}_aws"

with DAG(
    dag_id="{name}_retrain",
    schedule="{unix_cron(cadence)}",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={{"retries": 1, "retry_delay": timedelta(minutes=10)}},
    tags=["{slug}", "retraining"],
) as dag:
    start = StepFunctionStartExecutionOperator(
        task_id="start_training",
        aws_conn_id=CONNECTION,
        state_machine_arn="{{{{ var.value.{name}_state_machine_arn }}}}",
        state_machine_input={{
            "data_uri": "{{{{ var.value.{name}_data_uri }}}}",
            "model_uri": "{{{{ var.value.{name}_model_uri }}}}",
        }},
    )
    wait = StepFunctionExecutionSensor(
        task_id="wait_for_training",
        aws_conn_id=CONNECTION,
        execution_arn=start.output,
        mode="reschedule",
        poke_interval=300,
        timeout=3 * 60 * 60,
    )
    start >> wait
'''
    return {dag_path(slug): text}


def deploy_section(slug: str) -> list[str]:
    """The deploy guide's steps for the DAG, as Markdown lines."""
    name = slug.replace("-", "_")
    intro = ("The plan reuses your Airflow: nothing schedules retraining in AWS. The orchestration module "
             "builds the training workflow (Step Functions) and a role, `orchestration_airflow_role_arn`, "
             "that may start and watch that workflow only. For the environment your Airflow should train:")
    steps = [
        f"Copy `{dag_path(slug)}` into your Airflow's DAG folder (it needs `apache-airflow-providers-amazon`).",
        f"Set the Airflow Variables `{name}_state_machine_arn`, `{name}_data_uri` and `{name}_model_uri` to "
        "the outputs `orchestration_state_machine_arn`, `orchestration_data_uri` and `orchestration_model_uri` "
        "of `terraform output`.",
        f"Create the connection `{name}_aws` (Amazon Web Services) with the extra "
        '`{"role_arn": "<orchestration_airflow_role_arn>", "region_name": "<region>"}`. The role trusts your '
        "account: allow your Airflow's own role to assume it.",
    ]
    lines = ["## Retraining from your Airflow", "", *textwrap.wrap(intro, 99), ""]
    for i, step in enumerate(steps, 1):
        lines += textwrap.wrap(step, 99, initial_indent=f"{i}. ", subsequent_indent="   ", break_on_hyphens=False)
    return [*lines, ""]
