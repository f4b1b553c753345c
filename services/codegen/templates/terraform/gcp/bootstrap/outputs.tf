output "state_bucket" {
  description = "Bucket of every environment's Terraform state (GitHub variable TF_STATE_BUCKET)."
  value       = google_storage_bucket.state.name
}

output "workload_identity_provider" {
  description = "Provider the workflows authenticate through (GitHub variable GCP_WORKLOAD_IDENTITY_PROVIDER)."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "service_repository" {
  description = "Artifact Registry repository the service image is pushed to once and promoted from by digest."
  value       = "${google_artifact_registry_repository.service.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.service.repository_id}"
}

output "deploy_service_accounts" {
  description = "Per environment: the service account its deploy jobs impersonate."
  value       = { for env, sa in google_service_account.deploy : env => sa.email }
}

output "plan_service_accounts" {
  description = "Per environment: the read-only service account pull requests and main plan with."
  value       = { for env, sa in google_service_account.plan : env => sa.email }
}
