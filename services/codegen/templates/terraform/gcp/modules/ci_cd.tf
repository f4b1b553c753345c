# The CI service accounts, the identity pool and the service image repository are project-wide
# and live in infra/bootstrap (applied once), in the CI project (GCP_CI_PROJECT_ID, which may be the
# environment's own). This module looks up this environment's share of them, so a plan against a
# project that was never bootstrapped fails here, naming what is missing.
locals {
  parts   = regex("^(.*)-([a-z]+)$", var.name_prefix)
  project = local.parts[0]
  env     = local.parts[1]
}

data "google_service_account" "deploy" {
  project    = var.ci_project_id
  account_id = "${substr(local.project, 0, 14)}-${local.env}-deploy"
}

data "google_service_account" "plan" {
  project    = var.ci_project_id
  account_id = "${substr(local.project, 0, 14)}-${local.env}-plan"
}
# ---- outputs.tf ----
output "deploy_service_account" {
  description = "Service account this environment's deploy jobs impersonate (from infra/bootstrap)."
  value       = data.google_service_account.deploy.email
}

output "plan_service_account" {
  description = "Read-only service account pull requests and main plan with (from infra/bootstrap)."
  value       = data.google_service_account.plan.email
}
