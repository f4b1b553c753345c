# GitHub Actions deploys through Workload Identity Federation; no service account keys exist.
resource "google_iam_workload_identity_pool" "github" {
  project                   = var.project_id
  workload_identity_pool_id = substr("${var.name_prefix}-github", 0, 32)
  display_name              = "GitHub Actions"
}

resource "google_iam_workload_identity_pool_provider" "github" {
  # checkov:skip=CKV_GCP_125:Trust is pinned to this one repository by an exact assertion.repository match, which admits its deploy environments and its CI plan; a single sub value would lock out one of them.
  project                            = var.project_id
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  display_name                       = "GitHub OIDC"
  attribute_condition                = "assertion.repository == \"${var.github_repository}\""
  attribute_mapping = {
    "google.subject"        = "assertion.sub"
    "attribute.repository"  = "assertion.repository"
    "attribute.environment" = "assertion.environment"
  }

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account" "deploy" {
  project      = var.project_id
  account_id   = substr("${var.name_prefix}-deploy", 0, 30)
  display_name = "GitHub Actions deployer"
}

resource "google_service_account_iam_member" "deploy" {
  service_account_id = google_service_account.deploy.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository/${var.github_repository}"
}

resource "google_artifact_registry_repository" "service" {
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}-service"
  format        = "DOCKER"
  kms_key_name  = var.kms_key_id
  labels        = var.tags

  docker_config {
    immutable_tags = true
  }
}
# ---- outputs.tf ----
output "workload_identity_provider" {
  description = "Provider name for google-github-actions/auth (store it as the GCP_WORKLOAD_IDENTITY_PROVIDER secret)."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "deploy_service_account" {
  description = "Service account GitHub Actions impersonates."
  value       = google_service_account.deploy.email
}
