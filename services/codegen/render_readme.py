"""The two READMEs: the repository front page and the step-by-step deployment guide."""

from __future__ import annotations

import json

from amp_contracts import ConstraintSchema, Plan

from .render_docs import CLOUD_TITLES
from .render_domain import Domain, example_row
from .render_text import fill, md_cell, md_inline

_CLOUD = {
    "aws": {
        "cli": "AWS", "identity_kind": "IAM roles and an OIDC provider",
        "state": ["an S3 bucket (versioned, KMS-encrypted, public access blocked) and a DynamoDB lock table."],
        "backend": '-backend-config="bucket=<state-bucket>" -backend-config="key=<project>/dev.tfstate" '
                   '-backend-config="region=<region>" -backend-config="dynamodb_table=<lock-table>"',
        "secrets": [("AWS_DEPLOY_ROLE_ARN", "output `ci_cd_deploy_role_arn` of the first apply")],
        "variables": [("AWS_REGION", "primary region"), ("TF_STATE_BUCKET", "state bucket"),
                      ("TF_LOCK_TABLE", "DynamoDB lock table"), ("CONTAINER_REGISTRY", "ECR registry host")],
    },
    "gcp": {
        "cli": "gcloud", "identity_kind": "service accounts and a workload identity pool",
        "state": ["a GCS bucket with versioning and uniform bucket-level access."],
        "backend": '-backend-config="bucket=<state-bucket>" -backend-config="prefix=<project>/dev"',
        "secrets": [("GCP_WORKLOAD_IDENTITY_PROVIDER", "output `ci_cd_workload_identity_provider`"),
                    ("GCP_DEPLOY_SERVICE_ACCOUNT", "output `ci_cd_deploy_service_account`")],
        "variables": [("GCP_PROJECT_ID", "project of the environment"), ("GCP_REGION", "primary region"),
                      ("TF_STATE_BUCKET", "state bucket"), ("CONTAINER_REGISTRY", "Artifact Registry path")],
    },
    "azure": {
        "cli": "Azure (az)", "identity_kind": "managed identities and role assignments",
        "state": ["a storage account with a `tfstate` container (Entra ID auth, no shared keys)."],
        "backend": '-backend-config="resource_group_name=<rg>" -backend-config="storage_account_name=<account>" '
                   '-backend-config="container_name=tfstate" -backend-config="key=<project>/dev.tfstate" '
                   '-backend-config="use_azuread_auth=true"',
        "secrets": [("AZURE_CLIENT_ID", "output `ci_cd_deploy_client_id`"), ("AZURE_TENANT_ID", "Entra tenant id"),
                    ("AZURE_SUBSCRIPTION_ID", "target subscription id")],
        "variables": [("TF_STATE_RESOURCE_GROUP", "state resource group"),
                      ("TF_STATE_STORAGE_ACCOUNT", "state storage account"), ("ACR_NAME", "container registry name"),
                      ("CONTAINER_REGISTRY", "registry login server")],
    },
}

_LAYOUT = (
    ("infra/", "Terraform: root module, `modules/<capability>`, `environments/<env>.tfvars`"),
    ("services/training/", "Baseline training (plain-Python logistic regression, JSON model)"),
    ("services/serving/", "FastAPI inference API with `/healthz`, `/readyz`, `/predict`"),
    ("services/common/", "Model format and the feature/label contract"),
    ("pipelines/", "Batch and stream scoring entry points"),
    ("features/", "Feature definitions shared with the feature store"),
    ("data/sample.csv", "Synthetic, deterministic sample data for local runs and tests"),
    (".github/workflows/", "CI (lint, test, terraform) and promotion dev, staging, prod"),
    ("docs/", "Deployment guide, architecture, design rationale, ADRs"),
    ("reports/", "Cost and policy results of the approved plan"),
)


def readme_md(project: str, plan: Plan, domain: Domain, paths: set[str]) -> str:
    comps = ", ".join(c.capability for c in plan.components)
    summary = (f"A {md_inline(domain.title)} system on {CLOUD_TITLES.get(plan.cloud, plan.cloud)} "
               f"({md_inline(', '.join(plan.regions))}) with these capabilities: {md_inline(comps)}.")
    layout = "\n".join(f"| `{p}` | {md_cell(what)} |" for p, what in _LAYOUT
                       if any(x.startswith(p) for x in paths))
    return fill("docs/README.md", project=md_inline(project), summary=summary, layout=layout,
                example=json.dumps(example_row(domain)))


def deploy_md(project: str, plan: Plan, constraints: ConstraintSchema, root_vars: set[str]) -> str:
    info = _CLOUD[plan.cloud]
    extra = []
    if plan.cloud == "gcp":
        extra.append('-var "project_id=<project>"')
    if "container_image" in root_vars:
        extra.append('-var "container_image=<registry>/<image>:<tag>"')
    if "github_repository" in root_vars:
        extra.append('-var "github_repository=<owner>/<repo>"')
    cadence = f" ({constraints.training_cadence})" if constraints.training_cadence else ""
    return fill(
        "docs/deploy.md", project=md_inline(project), cloud_title=CLOUD_TITLES.get(plan.cloud, plan.cloud),
        cli=info["cli"], identity_kind=info["identity_kind"],
        state_bootstrap="\n".join(f"  {s}" for s in info["state"]), backend_example=info["backend"],
        first_apply_vars=" ".join(extra),
        secrets="\n".join(f"- `{k}`: {v}" for k, v in info["secrets"]),
        variables="\n".join(f"- `{k}`: {v}" for k, v in info["variables"]), cadence=cadence,
    )
