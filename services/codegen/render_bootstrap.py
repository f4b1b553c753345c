"""`infra/bootstrap/`: what exists once per account, applied before any environment.

The GitHub OIDC provider (or identity pool), the state bucket, the shared image repository, an
account-wide audit trail and the per-environment CI identities cannot live in the environment
stacks: the second environment would try to create them again, and a deploy role could widen
its own permissions. The deploy identities get what the environment stack builds, derived
from the resource types rendered into `infra/` (so a plan without Lambda grants no Lambda
rights), in the plan's regions.
"""

from __future__ import annotations

import json
import re

from .cicd_names import BUILD_ENVIRONMENT, ENVIRONMENTS, MONITORED, CiNames
from .render_hcl import attributes
from .render_text import TEMPLATES, _Template

_RESOURCE = re.compile(r'^(?:resource|data) "([a-z0-9_]+)"', re.MULTILINE)

#: Resource type prefix -> IAM service prefix, first match wins; IAM itself is granted by name.
AWS_SERVICES: tuple[tuple[str, str], ...] = (
    ("aws_iam_", ""), ("aws_caller_identity", ""), ("aws_partition", ""), ("aws_region", ""),
    ("aws_availability_zones", "ec2"), ("aws_s3_", "s3"), ("aws_kms_", "kms"), ("aws_ecs_", "ecs"),
    ("aws_ecr_", "ecr"), ("aws_lb", "elasticloadbalancing"), ("aws_alb", "elasticloadbalancing"),
    ("aws_appautoscaling_", "application-autoscaling"), ("aws_autoscaling_", "autoscaling"),
    ("aws_cloudwatch_log_", "logs"), ("aws_cloudwatch_event_", "events"), ("aws_cloudwatch_", "cloudwatch"),
    ("aws_sns_", "sns"), ("aws_sqs_", "sqs"), ("aws_sfn_", "states"), ("aws_sagemaker_", "sagemaker"),
    ("aws_glue_", "glue"), ("aws_cloudtrail", "cloudtrail"), ("aws_kinesis_firehose", "firehose"),
    ("aws_kinesis_", "kinesis"), ("aws_lambda_", "lambda"), ("aws_msk_", "kafka"), ("aws_scheduler_", "scheduler"),
    ("aws_dynamodb_", "dynamodb"), ("aws_wafv2_", "wafv2"), ("aws_batch_", "batch"),
    ("aws_elasticache_", "elasticache"), ("aws_athena_", "athena"), ("aws_secretsmanager_", "secretsmanager"),
    ("aws_ssm_", "ssm"), ("aws_api_gateway", "apigateway"), ("aws_apigatewayv2", "apigateway"),
    ("aws_acm_", "acm"), ("aws_route53", "route53"), ("aws_efs_", "elasticfilesystem"),
    ("aws_service_discovery", "servicediscovery"), ("aws_xray_", "xray"), ("aws_emr", "elasticmapreduce"),
    ("aws_vpc", "ec2"), ("aws_subnet", "ec2"), ("aws_security_group", "ec2"), ("aws_default_", "ec2"),
    ("aws_route", "ec2"), ("aws_nat_gateway", "ec2"), ("aws_eip", "ec2"), ("aws_internet_gateway", "ec2"),
    ("aws_network_", "ec2"), ("aws_flow_log", "ec2"), ("aws_ec2_", "ec2"), ("aws_launch_template", "ec2"),
    ("aws_instance", "ec2"),
)

#: Resource type prefix -> predefined roles a GCP deployer needs to manage it.
GCP_ROLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("google_storage_", ("roles/storage.admin",)),
    ("google_kms_", ("roles/cloudkms.admin",)),
    ("google_compute_firewall", ("roles/compute.securityAdmin",)),
    ("google_compute_security_policy", ("roles/compute.securityAdmin",)),
    ("google_compute_backend", ("roles/compute.loadBalancerAdmin",)),
    ("google_compute_url_map", ("roles/compute.loadBalancerAdmin",)),
    ("google_compute_target", ("roles/compute.loadBalancerAdmin",)),
    ("google_compute_global_forwarding", ("roles/compute.loadBalancerAdmin",)),
    ("google_compute_forwarding", ("roles/compute.loadBalancerAdmin",)),
    ("google_compute_region_network_endpoint_group", ("roles/compute.loadBalancerAdmin",)),
    ("google_compute_health_check", ("roles/compute.loadBalancerAdmin",)),
    ("google_compute_managed_ssl", ("roles/compute.loadBalancerAdmin",)),
    ("google_compute_", ("roles/compute.networkAdmin",)),
    ("google_cloud_run", ("roles/run.admin", "roles/iam.serviceAccountUser")),
    ("google_service_account", ("roles/iam.serviceAccountAdmin",)),
    ("google_project_iam_", ("roles/resourcemanager.projectIamAdmin",)),
    ("google_project_service", ("roles/serviceusage.serviceUsageAdmin",)),
    ("google_artifact_registry", ("roles/artifactregistry.admin",)),
    ("google_monitoring_", ("roles/monitoring.editor",)),
    ("google_logging_", ("roles/logging.configWriter",)),
    ("google_vertex_ai", ("roles/aiplatform.admin", "roles/iam.serviceAccountUser")),
    ("google_bigquery_", ("roles/bigquery.admin",)),
    ("google_pubsub_", ("roles/pubsub.admin",)),
    ("google_workflows_", ("roles/workflows.admin", "roles/iam.serviceAccountUser")),
    ("google_cloud_scheduler", ("roles/cloudscheduler.admin", "roles/iam.serviceAccountUser")),
    ("google_cloudfunctions", ("roles/cloudfunctions.admin", "roles/iam.serviceAccountUser")),
    ("google_dataflow_", ("roles/dataflow.admin", "roles/iam.serviceAccountUser")),
    ("google_redis_", ("roles/redis.admin",)),
    ("google_vpc_access", ("roles/vpcaccess.admin",)),
    ("google_service_networking", ("roles/servicenetworking.networksAdmin",)),
    ("google_secret_manager", ("roles/secretmanager.admin",)),
    ("google_dns_", ("roles/dns.admin",)),
    ("google_sql_", ("roles/cloudsql.admin",)),
    # Only read by the stack (serving on the team's cluster): the deployer applies the manifests in it.
    ("google_container_cluster", ("roles/container.developer",)),
    ("google_container_", ("roles/container.admin",)),
    ("google_dataproc_", ("roles/dataproc.admin",)),
    ("google_bigtable_", ("roles/bigtable.admin",)),
)


#: Resource type prefix -> the Google APIs that manage it, first match wins.
GCP_APIS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("google_storage_", ("storage.googleapis.com",)),
    ("google_kms_", ("cloudkms.googleapis.com",)),
    ("google_compute_", ("compute.googleapis.com",)),
    ("google_cloud_run", ("run.googleapis.com",)),
    ("google_service_account", ("iam.googleapis.com",)),
    ("google_project_iam_", ("cloudresourcemanager.googleapis.com",)),
    ("google_project", ("cloudresourcemanager.googleapis.com",)),
    ("google_artifact_registry", ("artifactregistry.googleapis.com",)),
    ("google_monitoring_", ("monitoring.googleapis.com",)),
    ("google_logging_", ("logging.googleapis.com",)),
    ("google_vertex_ai", ("aiplatform.googleapis.com",)),
    ("google_bigquery_", ("bigquery.googleapis.com",)),
    ("google_pubsub_", ("pubsub.googleapis.com",)),
    ("google_workflows_", ("workflows.googleapis.com",)),
    ("google_cloud_scheduler", ("cloudscheduler.googleapis.com",)),
    ("google_cloudfunctions", ("cloudfunctions.googleapis.com", "cloudbuild.googleapis.com")),
    ("google_dataflow_", ("dataflow.googleapis.com",)),
    ("google_redis_", ("redis.googleapis.com",)),
    ("google_vpc_access", ("vpcaccess.googleapis.com",)),
    ("google_service_networking", ("servicenetworking.googleapis.com",)),
    ("google_secret_manager", ("secretmanager.googleapis.com",)),
    ("google_dns_", ("dns.googleapis.com",)),
    ("google_sql_", ("sqladmin.googleapis.com",)),
    ("google_container_", ("container.googleapis.com",)),
    ("google_dataproc_", ("dataproc.googleapis.com",)),
    ("google_bigtable_", ("bigtableadmin.googleapis.com",)),
)
#: An API the stack calls at run time (a scheduler's or workflow's target, a metric type) rather
#: than manages: `<api>.googleapis.com/` in a URL or a metric filter.
_CALLED_API = re.compile(r"(?<![a-z.])([a-z]+)\.googleapis\.com/")


def _stack_texts(files: dict[str, str], bootstrap: bool = False) -> list[str]:
    """The Terraform of the environment stack (`infra/`, bootstrap excluded), or of the bootstrap."""
    return [text for path, text in files.items() if path.endswith(".tf")
            and path.startswith("infra/") and path.startswith("infra/bootstrap/") == bootstrap]


def resource_types(infra: dict[str, str], bootstrap: bool = False) -> set[str]:
    """Resource and data source types of the environment stack (`infra/`, bootstrap excluded)."""
    return {t for text in _stack_texts(infra, bootstrap) for t in _RESOURCE.findall(text)}


def aws_stack_actions(types: set[str]) -> list[str]:
    """`<service>:*` for each AWS service the stack builds; unknown types use their own prefix."""
    out: set[str] = set()
    for rtype in types:
        service = next((svc for prefix, svc in AWS_SERVICES if rtype.startswith(prefix)), None)
        if service is None:
            service = rtype.split("_")[1]
        if service:
            out.add(f"{service}:*")
    return sorted(out)


def gcp_stack_roles(types: set[str]) -> list[str]:
    """Predefined roles that manage each resource type the stack builds."""
    out: set[str] = set()
    for rtype in types:
        roles = next((r for prefix, r in GCP_ROLES if rtype.startswith(prefix)), ())
        out.update(roles)
    return sorted(out)


def gcp_stack_apis(infra: dict[str, str], bootstrap: bool = False) -> list[str]:
    """The Google APIs the environment stack (or the bootstrap) needs enabled: those managing its
    resource types and those its resources call (Cloud Run's job API from the scheduler, Vertex AI
    from the workflow)."""
    out: set[str] = set()
    for rtype in resource_types(infra, bootstrap):
        out.update(next((apis for prefix, apis in GCP_APIS if rtype.startswith(prefix)), ()))
    for text in _stack_texts(infra, bootstrap):
        out.update(f"{api}.googleapis.com" for api in _CALLED_API.findall(text))
    return sorted(out)


#: What the bootstrap needs on before it runs, beyond its resources' APIs: enabling the others,
#: and GitHub's token exchange with the workload identity pool (STS, then IAM credentials).
_BOOTSTRAP_CALLS = ("serviceusage.googleapis.com", "sts.googleapis.com", "iamcredentials.googleapis.com")


#: The service agents that encrypt with a project's key (CMEK), by the API whose agent it is.
CMEK_AGENTS: dict[str, str] = {
    "aiplatform.googleapis.com": "aiplatform", "artifactregistry.googleapis.com": "artifactregistry",
    "bigquery.googleapis.com": "bigquery", "pubsub.googleapis.com": "pubsub", "run.googleapis.com": "run",
    "storage.googleapis.com": "storage", "workflows.googleapis.com": "workflows",
}


def gcp_cmek_agents(infra: dict[str, str]) -> list[str]:
    """The services whose agents encrypt with the project's key: those of the APIs the stack uses."""
    apis = set(gcp_stack_apis(infra))
    return sorted(agent for api, agent in CMEK_AGENTS.items() if api in apis)


def gcp_bootstrap_apis(files: dict[str, str]) -> list[str]:
    """The APIs to enable in the CI project by hand, once, before the bootstrap's first apply."""
    return sorted({*gcp_stack_apis(files, bootstrap=True), *_BOOTSTRAP_CALLS})


def _hcl_list(items: list[str], indent: int = 2) -> str:
    if not items:
        return "[]"
    pad = " " * (indent + 2)
    return "[\n" + "".join(f"{pad}{json.dumps(i)},\n" for i in items) + " " * indent + "]"


def _hcl_map(pairs: dict[str, str], indent: int = 2) -> str:
    return "{\n" + attributes(list(pairs.items()), indent + 2) + " " * indent + "}"


def _fill(path: str, values: dict[str, str]) -> str:
    text = (TEMPLATES / path).read_text(encoding="utf-8")
    return _Template(text).substitute(values)


def render_bootstrap(cloud: str, slug: str, regions: list[str], infra: dict[str, str],
                     caps: set[str], trail_retention_days: int = 2555, unique: str = "") -> dict[str, str]:
    """Every file under `infra/bootstrap/` for the plan's cloud (`unique`: see `CiNames`)."""
    names = CiNames(cloud, slug, unique)
    types = resource_types(infra)
    values = {
        "slug": slug, "region": regions[0], "regions": json.dumps(regions), "environments": json.dumps(list(ENVIRONMENTS)),
        "build_environment": BUILD_ENVIRONMENT, "monitored_environment": MONITORED,
        "service_repository": names.service_repository, "drift_account": names.drift_identity(),
        "state_storage_account": names.state_storage_account, "state_bucket_prefix": names.state_bucket_prefix,
        "service_registry": names.registry, "pool_id": names.pool_id,
        "stack_actions": _hcl_list(aws_stack_actions(types)),
        "stack_roles": _hcl_list(gcp_stack_roles(types)),
        "stack_apis": _hcl_list(gcp_stack_apis(infra)),
        "deploy_accounts": _hcl_map({env: names.deploy_identity(env) for env in ENVIRONMENTS}),
        "plan_accounts": _hcl_map({env: names.plan_identity(env) for env in ENVIRONMENTS}),
        "trail_retention_days": str(trail_retention_days),
        "account_trail": "",
    }
    if cloud == "aws" and "audit_logging" in caps:
        values["account_trail"] = _fill("terraform/aws/bootstrap/account_trail.tf", values)
    files = {}
    for name in ("main.tf", "variables.tf", "outputs.tf"):
        text = _fill(f"terraform/{cloud}/bootstrap/{name}", values)
        files[f"infra/bootstrap/{name}"] = text.rstrip("\n") + "\n"
    return files

