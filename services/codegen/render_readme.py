"""The two READMEs: the repository front page and the step-by-step deployment guide."""

from __future__ import annotations

import json

from amp_contracts import ConstraintSchema, Plan

from .render_docs import CLOUD_TITLES
from .render_domain import LOWER_IS_BETTER, Domain, example_row
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
    ("services/training/", "Training job: data loading, split, metrics, evaluation gate, registration; its image"),
    ("services/serving/", "FastAPI inference API with `/healthz`, `/readyz`, `/predict`; loads the approved model"),
    ("services/drift/", "Drift job: PSI and KS per feature against the training data"),
    ("services/common/", "Model format, the feature/label contract, storage URIs and the model registry"),
    ("config/training.toml", "Split, evaluation-gate thresholds, decision point and drift limits"),
    ("pipelines/", "Batch and stream scoring entry points"),
    ("features/", "Feature definitions shared with the feature store"),
    ("data/sample.csv", "Synthetic, deterministic sample data for local runs and tests (the schema of real data)"),
    (".github/workflows/", "CI (lint, test, terraform) and promotion dev, staging, prod"),
    ("docs/", "Deployment guide, architecture, design rationale, ADRs, compliance notes"),
    ("reports/", "Cost and policy results of the approved plan"),
)


def readme_md(project: str, plan: Plan, domain: Domain, paths: set[str]) -> str:
    comps = ", ".join(c.capability for c in plan.components)
    summary = (f"A {md_inline(domain.title)} system on {CLOUD_TITLES.get(plan.cloud, plan.cloud)} "
               f"({md_inline(', '.join(plan.regions))}) with these capabilities: {md_inline(comps)}.")
    layout = "\n".join(f"| `{p}` | {what} |" for p, what in _LAYOUT  # our own Markdown, not user text
                       if any(x.startswith(p) for x in paths))
    return fill("docs/README.md", project=md_inline(project), summary=summary, layout=layout,
                example=json.dumps(example_row(domain)), model_section=model_md(domain))


_TASK_WORDS = {
    "binary": "a yes/no score (probability of `{label}`), decided at a threshold",
    "regression": "a number (`{label}`)",
    "ranking": "a ranking score per candidate (graded `{label}`, grouped by `{group}`)",
    "multiclass": "one of the classes of `{label}` ({classes})",
}
_METRIC_WORDS = {
    "pr_auc": "PR-AUC", "recall_at_fpr": "recall at {fpr:g} % false positives", "roc_auc": "ROC-AUC",
    "log_loss": "log loss", "ks": "KS statistic", "mape": "MAPE", "rmse": "RMSE", "mae": "MAE",
    "ndcg_at_10": "NDCG@10", "mrr": "MRR", "macro_f1": "macro F1", "accuracy": "accuracy",
}


def model_md(domain: Domain) -> str:
    """The model section: what is predicted, from what, how it is judged, and the training loop."""
    task = _TASK_WORDS[domain.task].format(label=domain.label, group=domain.group,
                                           classes=", ".join(f"`{c}`" for c in domain.classes))
    named = (" (a generic template: no built-in domain matched the requirement, so the feature names are "
             "placeholders to rename)" if domain.key == "generic" else "")
    def words(metric: str) -> str:
        return _METRIC_WORDS.get(metric, metric).format(fpr=domain.target_fpr * 100)

    gate = ", ".join(f"{words(m)} {'≤' if m in LOWER_IS_BETTER else '≥'} {v:g}" for m, v in domain.gate)
    imbalance = (f" The sample has about {domain.positive_rate:.0%} positives, as the real data will."
                 if domain.task == "binary" and domain.positive_rate <= 0.1 else "")
    features = "\n".join(f"| `{f.name}` | {md_cell(f.description)} | {f.low:g} – {f.high:g} |" for f in domain.features)
    return f"""## The model

{md_inline(domain.title[:1].upper() + domain.title[1:])}{named}: each `{domain.entity}` gets {task}.{imbalance}

| Feature | Meaning | Valid range |
|---|---|---|
{features}

- **Split**: {md_inline(domain.split_why)} (`[split]` in `config/training.toml`).
- **Metrics**: {", ".join(words(m) for m in domain.metrics)} on the holdout.
- **Evaluation gate**: {gate}. A run below any threshold exits non-zero and registers nothing;
  the thresholds live in `config/training.toml`, reviewed like code.

### The training loop

The training job (`python -m services.training.train`, image `services/training/Dockerfile`)
reads its inputs from the environment:

| Variable | What |
|---|---|
| `DATA_URI` | prefix of the training data in the planned storage (`s3://`, `gs://`, `az://` or a local path): every CSV under it |
| `MODEL_URI` | registry prefix: each run writes `<version>/model.json`, `metadata.json` (metrics, gate, data and code versions) and `reference.json` (feature profile for drift) |
| `RUN_ID` | names the version |

A version that passed its gate is approved with `python -m services.training.promote <version>`
(or at once with `--approve` / `AUTO_APPROVE=true`), which writes `MODEL_URI/approved.json`.
Serving loads that version at startup, so an approval is deployed by a restart, not a rebuild;
`/readyz` answers 503 until a model is loaded. The drift job (`python -m services.drift.job`,
`DRIFT_DATA_URI`) compares recent data with the approved version's training data (PSI and KS per
feature) and exits 3 when a feature drifted past the limits in `[drift]`."""


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
