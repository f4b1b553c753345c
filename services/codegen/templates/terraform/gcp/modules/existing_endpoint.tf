# Reuses a system the team already runs: nothing new is built. The module records where to reach
# it as a Secret Manager secret the services read; the team adds the value once, outside the repository.
resource "google_secret_manager_secret" "endpoint" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-${replace(basename(path.module), "_", "-")}-endpoint"
  labels    = var.tags

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }
}
# ---- outputs.tf ----
output "endpoint_secret" {
  description = "Secret Manager secret holding the existing system's endpoint."
  value       = google_secret_manager_secret.endpoint.id
}
