# A service account id holds 6 to 30 characters: where the full name is longer, the prefix gives
# way to a digest of the full name, and the role is kept, so ids stay unique within the project.
locals {
  account_names = {
    train = "${var.name_prefix}-train"
  }
  account_ids = {
    for role, full in local.account_names : role => length(full) <= 30 ? full : join("-", [
      trimsuffix(substr(var.name_prefix, 0, 19 - length(role)), "-"), role, substr(sha1(full), 0, 8)
    ])
  }
}

resource "google_service_account" "training" {
  project      = var.project_id
  account_id   = local.account_ids["train"]
  display_name = "Vertex AI training jobs"
}

# Least privilege: run Vertex jobs and read/write the data lake, nothing project-wide beyond that.
resource "google_project_iam_member" "training" {
  for_each = toset(["roles/aiplatform.user", "roles/logging.logWriter"])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.training.email}"
}

resource "google_storage_bucket_iam_member" "training" {
  bucket = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.training.email}"
}

resource "google_artifact_registry_repository" "training" {
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}-training"
  format        = "DOCKER"
  kms_key_name  = var.kms_key_id
  labels        = var.tags

  docker_config {
    immutable_tags = true
  }
}
# ---- outputs.tf ----
output "service_account_email" {
  description = "Identity of the Vertex AI training jobs."
  value       = google_service_account.training.email
}

output "machine_type" {
  description = "Machine type of the Vertex AI training jobs (from the plan)."
  value       = var.machine_type
}

output "repository_id" {
  description = "Artifact Registry repository of the training image."
  value       = google_artifact_registry_repository.training.id
}
