# A service account id holds 6 to 30 characters: where the full name is longer, the prefix gives
# way to a digest of the full name, and the role is kept, so ids stay unique within the project.
locals {
  account_names = {
    ingest       = "${var.name_prefix}-ingest-${var.region}"
    "ingest-run" = "${var.name_prefix}-ingest-run-${var.region}"
  }
  account_ids = {
    for role, full in local.account_names : role => length(full) <= 30 ? full : join("-", [
      trimsuffix(substr(var.name_prefix, 0, 19 - length(role)), "-"), role, substr(sha1(full), 0, 8)
    ])
  }
}

locals {
  bucket = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
}

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
    source_uris   = ["gs://${local.bucket}/raw/*.csv"]
  }
}

# The ingest job: pipelines/ingest.py checks each new delivery under landing/ and copies it into
# raw/, where training and the external table above read it. A file whose header lacks the
# schema's columns stays in landing/ and fails the run, which pages (the job_failed alert).
resource "google_service_account" "ingest" {
  project      = var.project_id
  account_id   = local.account_ids["ingest"]
  display_name = "Ingest job"
}

# objectUser: read landing/ and create in raw/, with no say over the bucket's own settings.
resource "google_storage_bucket_iam_member" "ingest" {
  bucket = local.bucket
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.ingest.email}"
}

resource "google_cloud_run_v2_job" "ingest" {
  project      = var.project_id
  name         = "${var.name_prefix}-ingest"
  location     = var.region
  launch_stage = "GA"
  labels       = var.tags

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.ingest.email
      encryption_key  = var.kms_key_id
      timeout         = "3600s"
      max_retries     = 1

      containers {
        image   = var.container_image
        command = ["python", "-m", "pipelines.ingest"]

        env {
          name  = "INGEST_SOURCE_URI"
          value = "gs://${local.bucket}/landing"
        }

        env {
          name  = "INGEST_TARGET_URI"
          value = "gs://${local.bucket}/raw"
        }

        resources {
          limits = {
            cpu    = "1"
            memory = "2Gi"
          }
        }
      }

      dynamic "vpc_access" {
        for_each = var.subnet_id == null ? [] : [var.subnet_id]

        content {
          egress = "ALL_TRAFFIC"

          network_interfaces {
            subnetwork = vpc_access.value
          }
        }
      }
    }
  }
}

# Every night at 01:00 UTC, before training and batch scoring read raw/, Cloud Scheduler runs the
# job through the Cloud Run Admin API as an identity that may run this job and nothing else.
resource "google_service_account" "ingest_scheduler" {
  project      = var.project_id
  account_id   = local.account_ids["ingest-run"]
  display_name = "Runs the ingest job on schedule"
}

resource "google_cloud_run_v2_job_iam_member" "ingest_scheduler" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.ingest.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.ingest_scheduler.email}"
}

resource "google_cloud_scheduler_job" "ingest" {
  project          = var.project_id
  name             = "${var.name_prefix}-ingest"
  region           = var.region
  schedule         = "0 1 * * *"
  time_zone        = "Etc/UTC"
  attempt_deadline = "320s"

  retry_config {
    retry_count = 3
  }

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.ingest.name}:run"

    oauth_token {
      service_account_email = google_service_account.ingest_scheduler.email
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.ingest_scheduler]
}
# ---- outputs.tf ----
output "dataset_id" {
  description = "BigQuery dataset of the raw zone."
  value       = google_bigquery_dataset.raw.dataset_id
}

output "ingest_job_name" {
  description = "Cloud Run job that copies new deliveries from landing/ into raw/."
  value       = google_cloud_run_v2_job.ingest.name
}
