"""How generated Terraform modules are wired: their input variables and where each value comes from.

A module template declares nothing by hand: its `variables.tf` holds exactly the inputs its
`main.tf` references (`var.<name>`), described here once per cloud, and the root module
passes each input from the module that produces it, when the plan has that module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .render_hcl import Raw

REQUIRED = object()


@dataclass(frozen=True)
class Input:
    """One module input: its declaration and, when another capability produces it, the source."""

    type: str
    description: str
    default: object = REQUIRED
    source: str | None = None  # capability whose module output feeds it
    output: str = ""  # that module's output name, or a root expression when source is None
    regional: bool = False  # only meaningful in the source module's region
    wrap_list: bool = False  # the output is one value, the input a list of it
    presence: bool = False  # `true` where the input of that name is wired (see `_with_presence`)


_COMMON: dict[str, Input] = {
    "name_prefix": Input("string", "Prefix of every resource name: <project>-<environment>.", output="local.name_prefix"),
    "region": Input("string", "Region of this module instance (from the root `regions` variables)."),
    "tags": Input("map(string)", "Tags (labels) applied to every resource for cost allocation and ownership.",
                  output="local.tags"),
    "settings": Input("map(string)", "Plan-wide values for the platform's monitoring and CI/CD modules "
                      "(the latency objective); component sizing is typed, never here.", {}),
    "retrain_schedule": Input("string", "When retraining runs, in the cloud scheduler's syntax (from the plan's "
                              "training cadence).", output="var.retrain_schedule"),
    "score_schedule": Input("string", "When batch scoring runs, in the cloud scheduler's syntax (from the plan's "
                            "scoring cadence).", output="var.score_schedule"),
    "container_image": Input("string", "Container image of the service, pushed by CI (registry/repo:tag).",
                             output="var.container_image"),
    "feature_names": Input("list(string)", "Model feature names, shared with the training and serving code.",
                           output="local.feature_names"),
    "github_repository": Input("string", "GitHub repository (owner/name) allowed to deploy through OIDC.",
                               output="var.github_repository"),
    "alert_email": Input("string", "Address (an on-call list) that every alarm notifies.", output="var.alert_email"),
    "existing_cluster_name": Input("string", "Name of the team's existing Kubernetes cluster the inference API "
                                   "runs on (the K8S_CLUSTER_NAME variable of the repository).",
                                   output="var.existing_cluster_name"),
    "retrain_trigger": Input("string", "What starts retraining: `schedule` (the cloud's scheduler, at "
                             "retrain_schedule) or `airflow` (the DAG in dags/, in the team's Airflow).",
                             output="var.retrain_trigger"),
}

_AWS: dict[str, Input] = {
    "kms_key_arn": Input("string", "Customer-managed KMS key; null falls back to AWS-managed encryption.", None,
                         "security_kms", "key_arn", regional=True),
    "vpc_id": Input("string", "VPC of the private network; null when the plan has no private networking.", None,
                    "networking_private", "vpc_id", regional=True),
    "subnet_ids": Input("list(string)", "Private subnets to place network interfaces in.", [],
                        "networking_private", "private_subnet_ids", regional=True),
    "security_group_ids": Input("list(string)", "Security groups of the private network interfaces.", [],
                                "networking_private", "security_group_id", regional=True, wrap_list=True),
    "data_bucket_name": Input("string", "Name of the data lake bucket (the storage module's); null (a plan "
                              "without one) means `<name_prefix>-data`, made outside this stack.", None,
                              "storage", "bucket_name"),
    "data_bucket_arn": Input("string", "ARN of the data lake bucket, to scope IAM policies.", None,
                             "storage", "bucket_arn"),
    "existing_stream_name": Input("string", "Name of the team's existing Kinesis data stream (the KINESIS_STREAM_NAME "
                                  "variable of the repository).", output="var.existing_stream_name"),
    "stream_arn": Input("string", "ARN of the ingest stream to consume.", None, "ingest_stream", "stream_arn",
                        regional=True),
    "stream_topic": Input("string", "Kafka topic of the ingest stream to consume; null for a Kinesis stream.", None,
                          "ingest_stream", "topic", regional=True),
    "alerts_topic_arn": Input("string", "Topic the monitoring module's alarms notify; null when the plan has no "
                              "monitoring module.", None, "monitoring", "alerts_topic_arn", regional=True),
    "stream_consumer_function": Input("string", "Lambda function consuming the stream, whose lag an alarm "
                                      "watches.", None, "stream_processing", "function_name", regional=True),
    "failed_batches_queue_name": Input("string", "Queue keeping the stream batches the consumer gave up on, which "
                                       "an alarm watches (CloudWatch alarms are regional).", None,
                                       "stream_processing", "failed_batches_queue_name", regional=True),
    "stream_bootstrap_brokers": Input("string", "Bootstrap brokers (IAM-authenticated TLS) of a Kafka ingest stream; "
                                      "null for a Kinesis stream.", None, "ingest_stream", "bootstrap_brokers",
                                      regional=True),
    "model_uri": Input("string", "Registry prefix the model versions and approved.json live under; null "
                       "derives it from the data bucket.", None, "registry", "model_uri"),
    "model_package_group": Input("string", "Model registry group new model versions are registered in.", None,
                                 "registry", "model_package_group"),
    "training_role_arn": Input("string", "Execution role of the training jobs.", None, "training", "role_arn"),
    "training_instance_type": Input("string", "Instance type of the training jobs (from the plan).", "ml.m5.xlarge",
                                    "training", "instance_type"),
}

_GCP: dict[str, Input] = {
    "notification_channel_id": Input("string", "On-call channel the monitoring module's alerts notify; null when "
                                     "the plan has no monitoring module.", None, "monitoring", "notification_channel_id"),
    "project_id": Input("string", "Google Cloud project that owns the resources.", output="var.project_id"),
    "ci_project_id": Input("string", "Google Cloud project of the bootstrap, which holds the CI service accounts "
                           "(the environment's own project when they are one).", output="var.ci_project_id"),
    "cmek_agents": Input("list(string)", "Services of this stack whose service agents encrypt with the project's "
                         "key (the APIs it uses).", output="var.cmek_agents"),
    "kms_key_id": Input("string", "Cloud KMS crypto key for CMEK; null uses Google-managed keys.", None,
                        "security_kms", "crypto_key_id", regional=True),
    "network_id": Input("string", "VPC network of the private network; null when the plan has none.", None,
                        "networking_private", "network_id", regional=True),
    "subnet_id": Input("string", "Private subnetwork for serverless VPC egress.", None,
                       "networking_private", "subnet_id", regional=True),
    "data_bucket_name": Input("string", "Name of the data lake bucket (the storage module's); null (a plan "
                              "without one) means `<name_prefix>-data`, made outside this stack.", None,
                              "storage", "bucket_name"),
    "existing_topic_id": Input("string", "Id of the team's existing Pub/Sub topic (the PUBSUB_TOPIC variable of the "
                               "repository).", output="var.existing_topic_id"),
    "topic_id": Input("string", "Pub/Sub topic of the ingest stream.", None, "ingest_stream", "topic_id"),
    "dead_letter_topic_id": Input("string", "Pub/Sub topic the ingest stream's undeliverable events go to.", None,
                                  "ingest_stream", "dead_letter_topic_id"),
    "consumer_subscription": Input("string", "Push subscription feeding the stream consumer, whose oldest "
                                   "unacknowledged event an alarm watches.", None, "stream_processing",
                                   "consumer_subscription"),
    "dead_letter_subscription": Input("string", "Subscription keeping the events the stream consumer gave up on, "
                                      "which an alarm watches.", None, "ingest_stream", "dead_letter_subscription"),
    "model_uri": Input("string", "Registry prefix the model versions and approved.json live under; null "
                       "derives it from the data bucket.", None, "registry", "model_uri"),
    "existing_cluster_location": Input("string", "Region or zone of that cluster (the K8S_CLUSTER_LOCATION "
                                       "variable of the repository).", output="var.existing_cluster_location"),
    "training_service_account": Input("string", "Service account the training jobs run as.", None,
                                      "training", "service_account_email"),
    "training_machine_type": Input("string", "Machine type of the training jobs (from the plan).", "n1-standard-8",
                                   "training", "machine_type"),
}

_AZURE: dict[str, Input] = {
    "action_group_id": Input("string", "On-call action group the monitoring module's alerts notify; null when the "
                             "plan has no monitoring module.", None, "monitoring", "action_group_id"),
    "resource_group_name": Input("string", "Resource group that holds the resources.",
                                 output="azurerm_resource_group.main.name"),
    # The group is created in the same apply: a data source reading it by name would be read while
    # planning, before it exists. Its id is known once it is.
    "resource_group_id": Input("string", "Id of the resource group that holds the resources (the scope of "
                               "log search alerts).", output="azurerm_resource_group.main.id"),
    "key_vault_id": Input("string", "Key Vault holding the customer-managed keys; null when there is none.", None,
                          "security_kms", "key_vault_id", regional=True),
    "key_vault_key_id": Input("string", "Versionless id of the customer-managed key; null uses platform keys.", None,
                              "security_kms", "key_id", regional=True),
    "encryption_identity_id": Input("string", "User-assigned identity allowed to use the customer-managed key.",
                                    None, "security_kms", "identity_id", regional=True),
    "encryption_identity_client_id": Input("string", "Client id of that identity, which a registry's encryption "
                                           "names.", None, "security_kms", "identity_client_id", regional=True),
    "subnet_id": Input("string", "Private subnet for private endpoints and VNet integration.", None,
                       "networking_private", "subnet_id", regional=True),
    "storage_account_id": Input("string", "Id of the data lake storage account.", None,
                                "storage", "storage_account_id"),
    "existing_eventhub_id": Input("string", "Resource id of the team's existing event hub (the EVENTHUB_ID variable of "
                                  "the repository).", output="var.existing_eventhub_id"),
    "eventhub_namespace_name": Input("string", "Event Hubs namespace of the ingest stream.", None,
                                     "ingest_stream", "eventhub_namespace_name"),
    "eventhub_name": Input("string", "Event hub the events arrive on.", None, "ingest_stream", "eventhub_name"),
    "eventhub_id": Input("string", "Id of that event hub, the scope of the consumer's receive grant.", None,
                         "ingest_stream", "eventhub_id"),
    "eventhub_consumer_group": Input("string", "Consumer group the stream job reads the events as.", None,
                                     "ingest_stream", "consumer_group_name"),
    "storage_account_name": Input("string", "Name of the data lake storage account.", None,
                                  "storage", "storage_account_name"),
    "ml_workspace_id": Input("string", "Azure Machine Learning workspace that trains and registers models.", None,
                             "training", "workspace_id"),
    "training_compute_name": Input("string", "Compute cluster the training jobs run on.", None,
                                   "training", "compute_name"),
    "model_uri": Input("string", "Registry prefix the model versions and approved.json live under; null "
                       "derives it from the data lake.", None, "storage", "model_uri"),
    "data_uri": Input("string", "Prefix of the data lake holding the training data.", None, "storage", "data_uri"),
    "data_factory_id": Input("string", "Data Factory running the retraining pipeline, whose failed runs page.", None,
                             "orchestration", "data_factory_id"),
    "batch_job_id": Input("string", "Container Apps job scoring the batch, whose failed executions page.", None,
                          "serving_batch", "job_id"),
    "existing_cluster_resource_group": Input("string", "Resource group of that cluster (the "
                                             "K8S_CLUSTER_RESOURCE_GROUP variable of the repository).",
                                             output="var.existing_cluster_resource_group"),
    "serving_cluster_id": Input("string", "The team's AKS cluster the inference API runs on, whose container logs "
                                "the serving alerts query; null when serving runs in this environment.", None,
                                "serving_online", "cluster_id"),
    "service_registry_resource_group": Input("string", "Resource group of the bootstrap's image registry, which "
                                             "the service image is pulled from.",
                                             output='"${var.project_name}-cicd-rg"'),
}

def _with_presence(inputs: dict[str, Input]) -> dict[str, Input]:
    """Each wired input with a `wired_<name>` companion: `true` where the plan wires it.

    A module output such as an ARN or an id is unknown until apply, so `count = var.x == null ?
    0 : 1` cannot be planned when x comes from a module created in the same apply. Whether x is
    wired is known when rendering: a count or for_each depends on the companion instead.
    """
    out = dict(inputs)
    for name, spec in inputs.items():
        if spec.source:
            out[f"wired_{name}"] = Input(
                "bool", f"Whether {name} is wired from the plan's {spec.source} module (known when planning, "
                "unlike the value itself, so a count may depend on it).", False, spec.source, spec.output,
                regional=spec.regional, presence=True)
    return out


INPUTS: dict[str, dict[str, Input]] = {
    "aws": _with_presence({**_COMMON, **_AWS}),
    "gcp": _with_presence({**_COMMON, **_GCP}),
    "azure": _with_presence({**_COMMON, **_AZURE}),
}

_VAR_REF = re.compile(r"\bvar\.([a-z_][a-z0-9_]*)")


def referenced_inputs(cloud: str, module_main: str, typed: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The wiring inputs a module's main.tf reads, in declaration order of the registry (stable).

    `typed` are the pattern's own typed inputs (declared in the catalog); any other `var.` reference
    the registry does not know is a template error.
    """
    used = set(_VAR_REF.findall(module_main))
    unknown = used - INPUTS[cloud].keys() - set(typed)
    if unknown:
        raise KeyError(f"{cloud} module references undeclared inputs: {sorted(unknown)}")
    return [name for name in INPUTS[cloud] if name in used and name not in typed]


def input_expression(cloud: str, name: str, present: dict[str, str | None],
                     outputs: dict[str, set[str]] | None = None) -> Raw | None:
    """The root expression feeding `name`, or None to leave the module default.

    `present` maps each capability of the plan to the expression of its primary module
    instance (`module.storage` or `module.storage["eu-west-1"]`); `outputs`, when given, the
    outputs each capability's module declares (a pattern's module may not produce every output).
    """
    spec = INPUTS[cloud][name]
    if spec.source is None:
        return Raw(spec.output) if spec.output else None
    module = present.get(spec.source)
    if module is None:
        return None
    if outputs is not None and spec.output not in outputs.get(spec.source, set()):
        return None
    if spec.presence:
        return Raw("true")
    expr = f"{module}.{spec.output}"
    return Raw(f"[{expr}]" if spec.wrap_list else expr)
