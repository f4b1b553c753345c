# A service account id holds 6 to 30 characters: where the full name is longer, the prefix gives
# way to a digest of the full name, and the role is kept, so ids stay unique within the project.
locals {
  account_names = {
    api = "${var.name_prefix}-api-${var.region}"
  }
  account_ids = {
    for role, full in local.account_names : role => length(full) <= 30 ? full : join("-", [
      trimsuffix(substr(var.name_prefix, 0, 19 - length(role)), "-"), role, substr(sha1(full), 0, 8)
    ])
  }
}

resource "google_service_account" "api" {
  project      = var.project_id
  account_id   = local.account_ids["api"]
  display_name = "Inference API"
}

locals {
  # gs://bucket/prefix of the model registry; serving reads <prefix>/approved.json and the version it names.
  model_uri    = coalesce(var.model_uri, "gs://${var.name_prefix}-data/models")
  model_bucket = split("/", trimprefix(local.model_uri, "gs://"))[0]
}

# The API's identity may read the registry's bucket and nothing else.
resource "google_storage_bucket_iam_member" "models" {
  bucket = local.model_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.api.email}"
}

# Cloud Run is the managed ingress: it load-balances across zones of the region, routes only to
# instances whose startup probe passed (/healthz, which answers once the start has tried to load
# the approved model), and scales between the planned bounds with `concurrency` requests in
# flight per instance (rate x latency target, with headroom).
resource "google_cloud_run_v2_service" "api" {
  project      = var.project_id
  name         = "${var.name_prefix}-inference"
  location     = var.region
  ingress      = var.subnet_id == null ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_ONLY"
  launch_stage = "GA"
  labels       = var.tags

  template {
    service_account = google_service_account.api.email
    encryption_key  = var.kms_key_id

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    max_instance_request_concurrency = var.concurrency

    containers {
      image = var.container_image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "2"
          memory = "4Gi"
        }
      }

      env {
        name  = "MODEL_URI"
        value = local.model_uri
      }

      # Up once the process answers, the approved model loaded or not: before the first promotion
      # no instance can be ready, and a revision whose startup probe never passes fails the apply.
      startup_probe {
        period_seconds    = 5
        failure_threshold = 24

        http_get {
          path = "/healthz"
        }
      }

      liveness_probe {
        http_get {
          path = "/healthz"
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
# ---- outputs.tf ----
output "service_uri" {
  description = "URL of the inference service (IAM-authenticated; no allUsers invoker)."
  value       = google_cloud_run_v2_service.api.uri
}

output "service_name" {
  description = "Name of the inference service; promote.yml gives it a new revision, which loads the approved model at once."
  value       = google_cloud_run_v2_service.api.name
}
