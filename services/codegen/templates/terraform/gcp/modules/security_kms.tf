data "google_project" "this" {
  project_id = var.project_id
}

resource "google_kms_key_ring" "this" {
  project  = var.project_id
  name     = "${var.name_prefix}-keys"
  location = var.region
}

resource "google_kms_crypto_key" "data" {
  name            = "${var.name_prefix}-data"
  key_ring        = google_kms_key_ring.this.id
  rotation_period = "7776000s"
  labels          = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

# Service agents that encrypt with the key on the project's behalf (CMEK).
resource "google_kms_crypto_key_iam_member" "agents" {
  for_each = toset([
    "serviceAccount:service-${data.google_project.this.number}@gs-project-accounts.iam.gserviceaccount.com",
    "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com",
    "serviceAccount:service-${data.google_project.this.number}@gcp-sa-aiplatform.iam.gserviceaccount.com",
    "serviceAccount:service-${data.google_project.this.number}@serverless-robot-prod.iam.gserviceaccount.com",
    "serviceAccount:service-${data.google_project.this.number}@gcp-sa-artifactregistry.iam.gserviceaccount.com",
    "serviceAccount:service-${data.google_project.this.number}@gcp-sa-workflows.iam.gserviceaccount.com",
    "serviceAccount:bq-${data.google_project.this.number}@bigquery-encryption.iam.gserviceaccount.com",
  ])

  crypto_key_id = google_kms_crypto_key.data.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value
}
# ---- outputs.tf ----
output "crypto_key_id" {
  description = "Cloud KMS crypto key used for CMEK on data, models and logs."
  value       = google_kms_crypto_key.data.id
  depends_on  = [google_kms_crypto_key_iam_member.agents]
}
