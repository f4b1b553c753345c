"""Hand-built plans covering each cloud and workload shape, rendered once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from amp_contracts import (
    CAPABILITIES,
    Candidate,
    Choice,
    Component,
    ConstraintSchema,
    CostEstimate,
    CostItem,
    Inputs,
    Plan,
    PolicyResults,
    ReasonCard,
    Risk,
    RuleResult,
)

from services.codegen.render import render_repository

#: Text a user could type, aimed at breaking Markdown, Mermaid, HCL and YAML.
HOSTILE = 'Use <script>alert(1)</script> | pipes | `ticks` ${var.x} %{if} "quotes" # heading\n- list'


def comp(cloud: str, capability: str, pattern: str, deployment: str = "managed", **kw) -> Component:
    return Component(capability=capability, pattern_id=f"{cloud}:{capability}:{pattern}", deployment=deployment, **kw)


def aws_online_pci() -> tuple[Plan, ConstraintSchema]:
    c = "aws"
    serving = comp(c, "serving_online", "sagemaker-realtime", service="sagemaker", name="Fraud scorer",
                   regions=["eu-west-1", "eu-central-1"], sizing={"instance_type": "ml.c5.xlarge", "instance_count": 2},
                   answers=["sla_latency_ms", "availability_target"],
                   justification="Managed endpoints meet p95 150 ms with autoscaling; " + HOSTILE,
                   candidates=[
                       Candidate(id="aws:serving_online:sagemaker-realtime", summary="SageMaker real-time endpoint",
                                 pros=["managed autoscaling", "VPC-only"], cons=["always-on instances"]),
                       Candidate(id="aws:serving_online:lambda-container", summary="Lambda container",
                                 rejected_because="cold starts break the 150 ms p95"),
                       Candidate(id="aws:serving_online:ecs-fargate", summary="ECS on Fargate",
                                 rejected_because="more to operate for the same latency"),
                   ])
    plan = Plan(cloud=c, regions=["eu-west-1", "eu-central-1"], catalog_version="2024.06", components=[
        comp(c, "security_kms", "kms-cmk", service="kms"),
        comp(c, "networking_private", "vpc-endpoints", service="vpc"),
        comp(c, "audit_logging", "cloudtrail", service="cloudtrail"),
        comp(c, "storage", "s3-lake", service="s3", answers=["data_classification"],
             justification="S3 with SSE-KMS and versioning."),
        comp(c, "ingest_batch", "glue-crawler", service="glue"),
        comp(c, "feature_store", "sagemaker-feature-store", service="sagemaker"),
        comp(c, "training", "sagemaker-training", service="sagemaker"),
        comp(c, "registry", "sagemaker-model-registry", service="sagemaker"),
        comp(c, "orchestration", "step-functions", service="stepfunctions"),
        serving,
        comp(c, "monitoring", "cloudwatch", service="cloudwatch"),
        comp(c, "ci_cd", "github-oidc", service="github-actions"),
    ], assumptions=["Traffic peaks at 300 rps during sales."], open_questions=["Is a DR region required?"])
    constraints = ConstraintSchema(cloud="aws", regions=["eu-west-1"], data_classification="pci",
                                   compliance=["pci_dss"], sla_latency_ms=150, availability_target=99.9,
                                   workload_types=["online"], training_cadence="weekly", budget_monthly_usd=5000)
    return plan, constraints


def gcp_batch_serverless() -> tuple[Plan, ConstraintSchema]:
    c = "gcp"
    plan = Plan(cloud=c, regions=["europe-west4"], components=[
        comp(c, "storage", "gcs-lake", service="gcs"),
        comp(c, "ingest_batch", "bigquery-external", service="bigquery"),
        comp(c, "training", "vertex-training", service="vertex"),
        comp(c, "registry", "vertex-model-registry", service="vertex"),
        comp(c, "orchestration", "workflows-scheduler", service="workflows", deployment="serverless"),
        comp(c, "serving_batch", "cloud-run-job", service="cloud_run", deployment="serverless",
             sizing={"cpu": "2", "memory": "4Gi"}),
        comp(c, "monitoring", "cloud-monitoring", service="monitoring"),
        comp(c, "ci_cd", "github-wif", service="github-actions"),
    ])
    constraints = ConstraintSchema(cloud="gcp", regions=["europe-west4"], workload_types=["batch"],
                                   deployment_pref="serverless", data_classification="internal",
                                   training_cadence="monthly")
    return plan, constraints


def azure_batch_serverless() -> tuple[Plan, ConstraintSchema]:
    c = "azure"
    plan = Plan(cloud=c, regions=["westeurope"], components=[
        comp(c, "security_kms", "key-vault-cmk", service="key_vault"),
        comp(c, "audit_logging", "activity-log-analytics", service="monitor"),
        comp(c, "storage", "adls-gen2", service="storage"),
        comp(c, "ingest_batch", "data-factory", service="data_factory"),
        comp(c, "training", "azureml-compute", service="azureml", sizing={"vm_size": "Standard_D4s_v5"}),
        comp(c, "registry", "acr-models", service="acr"),
        comp(c, "orchestration", "logic-app-schedule", service="logic_apps", deployment="serverless"),
        comp(c, "serving_batch", "container-apps-job", service="container_apps", deployment="serverless"),
        comp(c, "monitoring", "app-insights", service="monitor"),
        comp(c, "ci_cd", "github-federated", service="github-actions"),
    ])
    constraints = ConstraintSchema(cloud="azure", regions=["westeurope"], workload_types=["batch"],
                                   deployment_pref="serverless", data_classification="phi", compliance=["hipaa"])
    return plan, constraints


def gcp_streaming() -> tuple[Plan, ConstraintSchema]:
    c = "gcp"
    plan = Plan(cloud=c, regions=["europe-west1", "europe-west4"], components=[
        comp(c, "security_kms", "cloud-kms", service="kms"),
        comp(c, "networking_private", "vpc-psc", service="vpc"),
        comp(c, "storage", "gcs-lake", service="gcs"),
        comp(c, "ingest_stream", "pubsub", service="pubsub"),
        comp(c, "stream_processing", "cloud-run-push", service="cloud_run", deployment="serverless"),
        comp(c, "feature_store", "vertex-feature-store", service="vertex"),
        comp(c, "training", "vertex-training", service="vertex"),
        comp(c, "registry", "vertex-model-registry", service="vertex"),
        comp(c, "serving_online", "cloud-run-api", service="cloud_run", deployment="serverless",
             regions=["europe-west1", "europe-west4"], sizing={"min_instances": 2}),
        comp(c, "monitoring", "cloud-monitoring", service="monitoring"),
    ])
    constraints = ConstraintSchema(cloud="gcp", regions=["europe-west1"], workload_types=["streaming", "online"],
                                   throughput_rps=2000, sla_latency_ms=100)
    return plan, constraints


def aws_streaming_serverless() -> tuple[Plan, ConstraintSchema]:
    """Variants: MSK instead of Kinesis, Lambda instead of SageMaker, no platform controls."""
    c = "aws"
    plan = Plan(cloud=c, regions=["us-east-1"], components=[
        comp(c, "storage", "s3-lake", service="s3"),
        comp(c, "ingest_stream", "msk-kafka", service="msk"),
        comp(c, "stream_processing", "lambda-consumer", service="lambda", deployment="serverless"),
        comp(c, "training", "sagemaker-training", service="sagemaker"),
        comp(c, "serving_online", "lambda-container", service="lambda", deployment="serverless"),
        comp(c, "serving_batch", "lambda-batch", service="lambda", deployment="serverless"),
    ])
    return plan, ConstraintSchema(cloud="aws", workload_types=["streaming"])


def azure_online_containers() -> tuple[Plan, ConstraintSchema]:
    c = "azure"
    plan = Plan(cloud=c, regions=["westeurope", "northeurope"], components=[
        comp(c, "networking_private", "vnet-private-endpoints", service="vnet"),
        comp(c, "storage", "adls-gen2", service="storage"),
        comp(c, "training", "azureml-compute", service="azureml"),
        comp(c, "serving_online", "aks", service="aks", deployment="containers",
             regions=["westeurope", "northeurope"]),
        comp(c, "ingest_stream", "event-hubs", service="eventhubs"),
        comp(c, "stream_processing", "stream-analytics", service="stream_analytics"),
        comp(c, "feature_store", "redis-online", service="redis"),
    ])
    return plan, ConstraintSchema(cloud="azure", workload_types=["online", "streaming"], deployment_pref="containers")


def full(cloud: str, region: str):
    """Every capability with its generic template: exercises every module of a cloud at once."""
    def build() -> tuple[Plan, ConstraintSchema]:
        comps = [comp(cloud, cap, "generic") for cap in CAPABILITIES]
        return Plan(cloud=cloud, regions=[region], components=comps), ConstraintSchema(cloud=cloud)
    return build


PLANS = {
    "aws_online_pci": aws_online_pci,
    "gcp_batch_serverless": gcp_batch_serverless,
    "azure_batch_serverless": azure_batch_serverless,
    "gcp_streaming": gcp_streaming,
    "aws_streaming_serverless": aws_streaming_serverless,
    "azure_online_containers": azure_online_containers,
    "aws_full": full("aws", "us-west-2"),
    "gcp_full": full("gcp", "us-central1"),
    "azure_full": full("azure", "eastus"),
}


#: What a user might have written for each plan: the domain of the generated code is read from it.
REQUIREMENTS = {
    "aws_online_pci": "Real-time card fraud scoring API in eu-west-1, p95 150 ms. Cardholder data, PCI DSS. Retrain weekly.",
    "gcp_batch_serverless": "Nightly churn scoring for our subscribers on GCP europe-west4, serverless, retrain monthly.",
    "azure_batch_serverless": "Predict 30-day hospital readmission risk every night on Azure West Europe. Patient data, HIPAA.",
    "gcp_streaming": "Anomaly detection on sensor telemetry streaming through Pub/Sub, alerts within 100 ms.",
    "aws_streaming_serverless": "Demand forecasting for 300 stores from point-of-sale events on Kafka.",
    "azure_online_containers": "Product recommendations for our web shop on AKS, events from Event Hubs.",
    "aws_full": "Support ticket routing: classify incoming tickets by topic.",
    "gcp_full": "Our fintech needs transaction categorization at scale.",
    "azure_full": "",
}


def inputs_for(plan: Plan) -> tuple[CostEstimate, PolicyResults, list[Risk], list[ReasonCard]]:
    cost = CostEstimate(monthly_usd=1234.5, low_usd=900.0, high_usd=1600.0, breakdown=[
        CostItem(service=c.service or c.capability, qty="1 unit", usd=100.0, component=c.capability,
                 region=plan.regions[0]) for c in plan.components], assumptions=["730 hours per month"],
        delta_vs_prev_usd=55.0, delta_vs_prev_pct=4.7)
    policy = PolicyResults(overall="warn", rules=[
        RuleResult(id="budget_band", status="warn", detail="est $1234 > target | $1000", control="FinOps-1"),
        RuleResult(id="encryption_at_rest", status="pass", detail="CMK on every store", control="PCI-DSS 3.5"),
        RuleResult(id="region_policy", status="fail", detail="replica outside EU", waived=True,
                   waiver_reason="Approved DR exception"),
    ])
    first = plan.components[-1].capability
    risks = [Risk(id="r1", severity="high", title="Quota on endpoints", detail="Instance quota may block scale-out.",
                  component=first, probe="Request a quota increase in a sandbox account."),
             Risk(id="r2", severity="low", title="Cold start " + HOSTILE, detail=HOSTILE)]
    cards = [ReasonCard(decision_id="d1", agent="planner", node_name="planner", summary="Composed the plan",
                        inputs=Inputs(constraints_keys=["cloud", "sla_latency_ms"]),
                        candidates=[Candidate(id="optA", summary="managed", pros=["less ops"], cons=["cost"]),
                                    Candidate(id="optB", summary=HOSTILE, rejected_because="latency " + HOSTILE)],
                        choice=Choice(id="optA", justification="Fits p95 | budget " + HOSTILE),
                        policy_results={"budget": "warn", "pii": "pass"}, impacts={"monthly_usd": 1234.5},
                        confidence=0.74, risks=["quota risk in eu-west-1"], assumptions=["sales peak 3x"]),
             ReasonCard(decision_id="d2", agent="critic.cost", node_name="critic_cost", summary="Priced the BOM",
                        confidence=0.6)]
    return cost, policy, risks, cards


def render_named(name: str) -> dict[str, str]:
    plan, constraints = PLANS[name]()
    cost, policy, risks, cards = inputs_for(plan)
    return render_repository(plan, constraints, cost, policy, risks, cards, f"Acme {name.replace('_', ' ')}!",
                             REQUIREMENTS.get(name, ""))


@pytest.fixture(scope="session")
def rendered() -> dict[str, dict[str, str]]:
    return {name: render_named(name) for name in PLANS}


@pytest.fixture(scope="session")
def written(rendered, tmp_path_factory) -> dict[str, Path]:
    """Each rendered repository written to its own directory."""
    roots = {}
    for name, files in rendered.items():
        root = tmp_path_factory.mktemp(name)
        for path, text in files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        roots[name] = root
    return roots


@pytest.fixture(scope="session")
def plans() -> dict:
    """Plan builders by name: each returns (plan, constraints)."""
    return PLANS


@pytest.fixture(scope="session")
def render():
    """Renders a named plan with cost, policy, risks and cards."""
    return render_named


@pytest.fixture(scope="session")
def extra_inputs():
    return inputs_for


@pytest.fixture(scope="session")
def hostile() -> str:
    return HOSTILE
