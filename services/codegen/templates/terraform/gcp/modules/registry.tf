locals {
  bucket = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
}

# Model versions live under gs://<data bucket>/models/<version>/; serving loads the version named in
# models/approved.json, written with no version so serving reports not ready until one is approved.
resource "google_storage_bucket_object" "approved" {
  bucket       = local.bucket
  name         = "models/approved.json"
  content      = jsonencode({ version = null })
  content_type = "application/json"
  kms_key_name = var.kms_key_id

  lifecycle {
    ignore_changes = [content, kms_key_name]
  }
}
# ---- outputs.tf ----
output "model_uri" {
  description = "Registry prefix holding model versions and approved.json (MODEL_URI of training and serving)."
  value       = "gs://${local.bucket}/models"
}

