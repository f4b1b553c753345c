"""What the estimate prices, the generated repository builds or runs.

Every bill-of-materials line of a buildable pattern is either a resource its module creates (the
price book's service, mapped to the Terraform resource types that are that service) or usage that
another part of the repository produces at run time, listed here with what produces it. A line
that is neither (a NAT gateway no module creates, drift jobs nothing starts, API Gateway requests
in front of a function URL) is a cost the user approved for something they will not get.
"""

from __future__ import annotations

import re

from amp_domain.catalog import CLOUDS, load_catalog

from services.codegen.render_text import TEMPLATES

#: Price-book service (the key's second part) -> resource types that are that service, per cloud.
BUILT_BY: dict[str, dict[str, tuple[str, ...]]] = {
    "aws": {
        "apigw": ("aws_apigatewayv2_api", "aws_api_gateway_rest_api"), "cloudtrail": ("aws_cloudtrail",),
        "ec2": ("aws_instance", "aws_autoscaling_group"), "elb": ("aws_lb",),
        "fargate": ("aws_ecs_service", "aws_batch_compute_environment"),
        "flink": ("aws_kinesisanalyticsv2_application",), "glue": ("aws_glue_job",),
        "kinesis": ("aws_kinesis_stream",), "kms": ("aws_kms_key",), "lambda": ("aws_lambda_function",),
        "msk": ("aws_msk_cluster",), "s3": ("aws_s3_bucket",), "sagemaker": ("aws_sagemaker_endpoint",),
        "sagemaker_fs": ("aws_sagemaker_feature_group",), "stepfunctions": ("aws_sfn_state_machine",),
        "vpc": ("aws_vpc_endpoint",), "nat": ("aws_nat_gateway",),
    },
    "gcp": {
        "bigquery": ("google_bigquery_dataset",), "gce": ("google_compute_instance",),
        "gcs": ("google_storage_bucket",), "kms": ("google_kms_crypto_key",),
        "logging": ("google_logging_project_sink",), "nat": ("google_compute_router_nat",),
        "psc": ("google_service_networking_connection", "google_compute_forwarding_rule"),
        "pubsub": ("google_pubsub_topic",), "run": ("google_cloud_run_v2_service", "google_cloud_run_v2_job"),
        "scheduler": ("google_cloud_scheduler_job",), "vertex": ("google_vertex_ai_featurestore",),
        "workflows": ("google_workflows_workflow",),
    },
    "azure": {
        "adf": ("azurerm_data_factory",), "asa": ("azurerm_stream_analytics_job",),
        "containerapps": ("azurerm_container_app", "azurerm_container_app_job"),
        "eventhubs": ("azurerm_eventhub_namespace",), "functions": ("azurerm_linux_function_app",),
        "keyvault": ("azurerm_key_vault_key",), "loganalytics": ("azurerm_log_analytics_workspace",),
        "nat": ("azurerm_nat_gateway",), "privatelink": ("azurerm_private_endpoint",),
        "redis": ("azurerm_redis_cache",), "storage": ("azurerm_storage_account",),
        "vm": ("azurerm_linux_virtual_machine", "azurerm_machine_learning_compute_cluster"),
    },
}

#: Usage metered at run time on what another part of the repository runs or stores.
USAGE: dict[str, str] = {
    "aws.s3.standard_gb_month": "objects the code stores in the plan's buckets (models, artifacts)",
    "gcp.gcs.standard_gb_month": "objects the code stores in the plan's buckets (models, artifacts)",
    "azure.storage.hot_zrs_gb_month": "blobs the code stores in the plan's storage account",
    "aws.cloudwatch.logs_gb": "logs the services write", "gcp.logging.ingest_gb": "logs the services write",
    "azure.loganalytics.ingest_gb": "logs the services write",
    "aws.cloudwatch.metric_month": "the custom metrics the serving code and the drift job publish",
    "aws.sagemaker.ml_m5_2xlarge_hour": "training jobs the orchestrator and retrain.yml start",
    "aws.sagemaker.ml_g5_2xlarge_hour": "training jobs the orchestrator and retrain.yml start",
    "gcp.vertex.training_n1_standard_8_hour": "training jobs the orchestrator and retrain.yml start",
    "gcp.vertex.training_t4_hour": "training jobs the orchestrator and retrain.yml start",
    "github.actions.minute": "the generated workflows' runs",
    "aws.kinesis.retrieval_gb": "records the plan's stream consumer reads (from a stream built here or the team's)",
    "aws.ecr.gb_month": "images in the bootstrap's repository",
    "gcp.artifact_registry.gb_month": "images in the bootstrap's repository",
    "azure.acr.standard_month": "the bootstrap's registry",
}

#: Capacity a pattern takes on infrastructure the team already runs (nothing here builds it), by pattern.
ON_TEAM_INFRASTRUCTURE: dict[str, tuple[str, ...]] = {
    f"{cloud}:serving_online:kubernetes-existing": keys for cloud, keys in (
        ("aws", ("aws.ec2.c5_xlarge_hour", "aws.ec2.g5_xlarge_hour")),
        ("gcp", ("gcp.gce.n2_standard_4_hour", "gcp.gce.g2_standard_4_hour")),
        ("azure", ("azure.vm.f4s_v2_hour", "azure.vm.nc4as_t4_v3_hour")))
}

_RESOURCE = re.compile(r'^resource "([a-z0-9_]+)"', re.MULTILINE)


def test_every_priced_line_is_built_or_is_usage_of_what_is_built():
    unbuilt = []
    for cloud in CLOUDS:
        for pattern in load_catalog(cloud).patterns:
            if not pattern.buildable:
                continue
            types = set(_RESOURCE.findall((TEMPLATES / "terraform" / cloud / "modules" / f"{pattern.module}.tf")
                                          .read_text(encoding="utf-8")))
            for item in pattern.bom:
                if item.key in USAGE or item.key in ON_TEAM_INFRASTRUCTURE.get(pattern.id, ()):
                    continue
                service = item.key.split(".")[1]
                if not types & set(BUILT_BY[cloud].get(service, ())):
                    unbuilt.append(f"{pattern.id}: {item.key} ({item.label})")
    assert not unbuilt, "priced but not built:\n" + "\n".join(unbuilt)


def test_the_check_fails_a_line_nothing_builds():
    """The same rule on a pattern priced for an unbuilt NAT gateway (as the private-network patterns were)."""
    types = {"google_compute_network", "google_service_networking_connection"}
    assert not types & set(BUILT_BY["gcp"]["nat"])
    assert types & set(BUILT_BY["gcp"]["psc"])
