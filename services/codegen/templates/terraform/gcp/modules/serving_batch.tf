# A service account id holds 6 to 30 characters: where the full name is longer, the prefix gives
# way to a digest of the full name, and the role is kept, so ids stay unique within the project.
locals {
  account_names = {
    batch       = "${var.name_prefix}-batch-${var.region}"
    "batch-run" = "${var.name_prefix}-batch-run-${var.region}"
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

resource "google_service_account" "batch" {
  project      = var.project_id
  account_id   = local.account_ids["batch"]
  display_name = "Batch scoring job"
}

resource "google_storage_bucket_iam_member" "batch" {
  bucket = local.bucket
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.batch.email}"
}

# Serverless batch scoring: a Cloud Run job running pipelines/batch_score.py.
resource "google_cloud_run_v2_job" "batch" {
  project      = var.project_id
  name         = "${var.name_prefix}-batch-score"
  location     = var.region
  launch_stage = "GA"
  labels       = var.tags

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.batch.email
      encryption_key  = var.kms_key_id
      timeout         = "3600s"
      max_retries     = 2

      containers {
        image   = var.container_image
        command = ["python", "-m", "pipelines.batch_score"]

        env {
          name  = "MODEL_URI"
          value = coalesce(var.model_uri, "gs://${local.bucket}/models")
        }

        env {
          name  = "BATCH_INPUT_URI"
          value = "gs://${local.bucket}/features/latest.csv"
        }

        env {
          name  = "BATCH_OUTPUT_URI"
          value = "gs://${local.bucket}/scores/latest.csv"
        }

        resources {
          limits = {
            cpu    = tostring(var.vcpu)
            memory = "${var.vcpu * 2}Gi"
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
# At the plan's scoring cadence (04:00 UTC on its days, after the nightly ingest), Cloud Scheduler runs
# the job through the Cloud Run Admin API as an identity that may run this job and nothing else.
resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = local.account_ids["batch-run"]
  display_name = "Runs the batch scoring job on schedule"
}

resource "google_cloud_run_v2_job_iam_member" "scheduler" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.batch.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "scheduled" {
  project          = var.project_id
  name             = "${var.name_prefix}-batch-score"
  region           = var.region
  schedule         = var.score_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "320s"

  retry_config {
    retry_count = 3
  }

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.batch.name}:run"

    oauth_token {
      service_account_email = google_service_account.scheduler.email
    }
  }

  depends_on = [google_cloud_run_v2_job_iam_member.scheduler]
}
moved {
  from = google_cloud_scheduler_job.nightly
  to   = google_cloud_scheduler_job.scheduled
}
# ---- outputs.tf ----
output "job_name" {
  description = "Cloud Run job that scores the batch."
  value       = google_cloud_run_v2_job.batch.name
}
