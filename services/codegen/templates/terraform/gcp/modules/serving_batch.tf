locals {
  bucket = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
}

resource "google_service_account" "batch" {
  project      = var.project_id
  account_id   = substr("${var.name_prefix}-batch-${var.region}", 0, 30)
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
# ---- outputs.tf ----
output "job_name" {
  description = "Cloud Run job that scores the batch."
  value       = google_cloud_run_v2_job.batch.name
}
