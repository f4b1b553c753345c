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

# Service agents that encrypt with the key on the project's behalf (CMEK): those of the services
# this stack uses only, since a service agent exists once its API is on (a grant to one that does
# not exist fails the apply). Cloud Storage's and BigQuery's are made on first request: the deploy
# guide has the commands that make them before the first apply.
locals {
  number = data.google_project.this.number
  agents = {
    aiplatform       = "serviceAccount:service-${local.number}@gcp-sa-aiplatform.iam.gserviceaccount.com"
    artifactregistry = "serviceAccount:service-${local.number}@gcp-sa-artifactregistry.iam.gserviceaccount.com"
    bigquery         = "serviceAccount:bq-${local.number}@bigquery-encryption.iam.gserviceaccount.com"
    pubsub           = "serviceAccount:service-${local.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
    run              = "serviceAccount:service-${local.number}@serverless-robot-prod.iam.gserviceaccount.com"
    storage          = "serviceAccount:service-${local.number}@gs-project-accounts.iam.gserviceaccount.com"
    workflows        = "serviceAccount:service-${local.number}@gcp-sa-workflows.iam.gserviceaccount.com"
  }
}

resource "google_kms_crypto_key_iam_member" "agents" {
  for_each = { for service, member in local.agents : service => member if contains(var.cmek_agents, service) }

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
