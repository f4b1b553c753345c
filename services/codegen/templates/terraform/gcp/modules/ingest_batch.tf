resource "google_bigquery_dataset" "raw" {
  project                    = var.project_id
  dataset_id                 = replace("${var.name_prefix}_raw", "-", "_")
  location                   = var.region
  description                = "Raw zone: the CSV files under the data lake bucket's raw/ prefix, read in place."
  delete_contents_on_destroy = false
  labels                     = var.tags

  dynamic "default_encryption_configuration" {
    for_each = var.kms_key_id == null ? [] : [var.kms_key_id]

    content {
      kms_key_name = default_encryption_configuration.value
    }
  }
}

resource "google_bigquery_table" "events" {
  # checkov:skip=CKV_GCP_80:External table: the rows stay in the data lake bucket, which is CMEK-encrypted; BigQuery keeps only the schema.
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.raw.dataset_id
  table_id            = "events"
  deletion_protection = true
  labels              = var.tags

  external_data_configuration {
    autodetect    = true
    source_format = "CSV"
    source_uris   = ["gs://${coalesce(var.data_bucket_name, "${var.name_prefix}-data")}/raw/*.csv"]
  }
}
# ---- outputs.tf ----
output "dataset_id" {
  description = "BigQuery dataset of the raw zone."
  value       = google_bigquery_dataset.raw.dataset_id
}
