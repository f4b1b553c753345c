"""The DAG that starts retraining from the team's own Airflow, where the plan reuses it.

A plan that reuses an existing Airflow (`<cloud>:orchestration:airflow-existing`) builds the same
training workflow as the cloud's own orchestration pattern (Step Functions, Cloud Workflows, a Data
Factory pipeline), without its schedule (`retrain_trigger = "airflow"`): the team's Airflow starts
it on the plan's cadence, as an identity allowed to do that only. The DAG is generated here so
that what was planned is what runs, in a scheduler the team already operates, and each run is
followed to its end so that a failed run fails the DAG run.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from amp_contracts import Plan
from amp_domain.build import unix_cron


@dataclass(frozen=True)
class _Flavour:
    """What the DAG and the guide say on one cloud."""

    workflow: str  # what the orchestration module builds
    provider: str  # the Airflow provider package the operators come from
    imports: tuple[str, ...]
    tasks: str  # the operators, with {name} for the project's identifier
    variables: tuple[tuple[str, str], ...]  # Airflow Variable suffix -> what it is set to (a root output)
    conn: str  # the connection's id, after the project's identifier
    connection: str  # what the connection is and holds, after its id
    identity: str  # who may start the workflow, and how the Airflow gets to be it


_FLAVOURS: dict[str, _Flavour] = {
    "aws": _Flavour(
        workflow="the training workflow (Step Functions)",
        provider="apache-airflow-providers-amazon",
        imports=("from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator",
                 "from airflow.providers.amazon.aws.sensors.step_function import StepFunctionExecutionSensor"),
        tasks='''    start = StepFunctionStartExecutionOperator(
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
''',
        variables=(("state_machine_arn", "`orchestration_state_machine_arn`"),
                   ("data_uri", "`orchestration_data_uri`"), ("model_uri", "`orchestration_model_uri`")),
        conn="aws",
        connection='(Amazon Web Services) with the extra '
                   '`{"role_arn": "<orchestration_airflow_role_arn>", "region_name": "<region>"}`',
        identity="a role, `orchestration_airflow_role_arn`, that may start and watch that workflow only. "
                 "The role trusts your account: allow your Airflow's own role to assume it",
    ),
    "gcp": _Flavour(
        workflow="the training workflow (Cloud Workflows), which runs the Vertex AI training job to its end",
        provider="apache-airflow-providers-google",
        imports=("from airflow.providers.google.cloud.operators.workflows import WorkflowsCreateExecutionOperator",
                 "from airflow.providers.google.cloud.sensors.workflows import WorkflowExecutionSensor"),
        tasks='''    # project and account come from the connection (these operators do not template them)
    where = {{
        "location": "{{{{ var.value.{name}_region }}}}",
        "workflow_id": "{{{{ var.value.{name}_workflow_name }}}}",
        "gcp_conn_id": CONNECTION,
    }}
    start = WorkflowsCreateExecutionOperator(
        task_id="start_training",
        execution={{"argument": "{{{{ var.value.{name}_execution_argument }}}}"}},
        **where,
    )
    wait = WorkflowExecutionSensor(
        task_id="wait_for_training",
        execution_id="{{{{ ti.xcom_pull(task_ids='start_training', key='execution_id') }}}}",
        mode="reschedule",
        poke_interval=120,
        timeout=24 * 60 * 60,  # the execution lasts as long as the training job
        **where,
    )
    start >> wait
''',
        variables=(("workflow_name", "`orchestration_workflow_name`"),
                   ("execution_argument", "`orchestration_execution_argument`"),
                   ("region", "the environment's region")),
        conn="gcp",
        connection="(Google Cloud) with the environment's project as its project and "
                   "`orchestration_airflow_service_account` as its impersonation chain",
        identity="an account, `orchestration_airflow_service_account`, that may run workflows. Let your "
                 "Airflow's own account impersonate it (`roles/iam.serviceAccountTokenCreator` on it). The "
                 "execution ends with the training job, so a failed job fails the DAG run",
    ),
    "azure": _Flavour(
        workflow="the retraining pipeline (Data Factory), which runs the Azure ML training job to its end",
        provider="apache-airflow-providers-microsoft-azure",
        imports=("from airflow.providers.microsoft.azure.operators.data_factory import (\n"
                 "    AzureDataFactoryRunPipelineOperator,\n)",),
        tasks='''    AzureDataFactoryRunPipelineOperator(
        task_id="run_retraining",
        azure_data_factory_conn_id=CONNECTION,
        resource_group_name="{{{{ var.value.{name}_resource_group }}}}",
        factory_name="{{{{ var.value.{name}_factory_name }}}}",
        pipeline_name="{{{{ var.value.{name}_pipeline_name }}}}",
        parameters={{
            "data_uri": "{{{{ var.value.{name}_data_uri }}}}",
            "model_uri": "{{{{ var.value.{name}_model_uri }}}}",
        }},
        wait_for_termination=True,
        check_interval=120,
        timeout=24 * 60 * 60,  # the pipeline run lasts as long as the training job
    )
''',
        variables=(("resource_group", "`orchestration_resource_group_name`"),
                   ("factory_name", "`orchestration_factory_name`"),
                   ("pipeline_name", "`orchestration_pipeline_name`"),
                   ("data_uri", "`orchestration_data_uri`"), ("model_uri", "`orchestration_model_uri`")),
        conn="adf",
        connection="(Azure Data Factory) for your Airflow's service principal",
        identity="no identity of its own for your Airflow: grant your Airflow's service principal the "
                 "`Data Factory Contributor` role on the factory (`orchestration_data_factory_id`). The pipeline "
                 "run ends with the training job, so a failed job fails the DAG run",
    ),
}


def airflow_orchestrated(plan: Plan) -> bool:
    """Whether the plan's retraining is started by the team's Airflow."""
    return plan.cloud in _FLAVOURS and any(
        c.pattern_id == f"{plan.cloud}:orchestration:airflow-existing" for c in plan.components)


def _name(slug: str) -> str:
    return slug.replace("-", "_")


def dag_path(slug: str) -> str:
    return f"dags/{_name(slug)}_retrain.py"


def render_dag(cloud: str, slug: str, cadence: str | None) -> dict[str, str]:
    """`dags/<project>_retrain.py`: start the workflow, then follow it to its end."""
    f, name = _FLAVOURS[cloud], _name(slug)
    variables = ", ".join(f"`{name}_{suffix}`" for suffix, _ in f.variables)
    doc = textwrap.fill(f"Install this file in the Airflow's DAG folder (it needs {f.provider}), then set the "
                        f"Variables {variables} and the connection the guide names (docs/README.md, \"Retraining "
                        "from your Airflow\").", 99)
    text = (f'"""Retraining of {slug}, started by the team\'s Airflow (generated with the repository).\n\n'
            f'{doc}\n"""\n\nfrom __future__ import annotations\n\nfrom datetime import datetime, timedelta\n\n'
            "from airflow import DAG\n" + "\n".join(f.imports) + "\n\n"
            f'CONNECTION = "{name}_{f.conn}"\n\n'
            f'with DAG(\n    dag_id="{name}_retrain",\n    schedule="{unix_cron(cadence)}",\n'
            "    start_date=datetime(2025, 1, 1),\n    catchup=False,\n    max_active_runs=1,\n"
            '    default_args={"retries": 1, "retry_delay": timedelta(minutes=10)},\n'
            f'    tags=["{slug}", "retraining"],\n) as dag:\n' + f.tasks.format(name=name))
    return {dag_path(slug): text}


def deploy_section(cloud: str, slug: str) -> list[str]:
    """The deploy guide's steps for the DAG, as Markdown lines."""
    f, name = _FLAVOURS[cloud], _name(slug)
    intro = (f"The plan reuses your Airflow: nothing in the cloud schedules retraining. The orchestration module "
             f"builds {f.workflow}, and {f.identity}. For the environment your Airflow should train:")
    variables = ", ".join(f"`{name}_{suffix}` ({source})" for suffix, source in f.variables)
    steps = [
        f"Copy `{dag_path(slug)}` into your Airflow's DAG folder (it needs `{f.provider}`).",
        f"Set the Airflow Variables, from `terraform output` where an output is named: {variables}.",
        f"Create the connection `{name}_{f.conn}` {f.connection}.",
    ]
    lines = ["## Retraining from your Airflow", "", *textwrap.wrap(intro, 99), ""]
    for i, step in enumerate(steps, 1):
        lines += textwrap.wrap(step, 99, initial_indent=f"{i}. ", subsequent_indent="   ", break_on_hyphens=False)
    return [*lines, ""]
