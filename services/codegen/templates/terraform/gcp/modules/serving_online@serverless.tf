resource "google_service_account" "api" {
  project      = var.project_id
  account_id   = substr("${var.name_prefix}-api-${var.region}", 0, 30)
  display_name = "Inference API"
}

resource "google_cloud_run_v2_service" "api" {
  project      = var.project_id
  name         = "${var.name_prefix}-inference"
  location     = var.region
  ingress      = var.subnet_id == null ? "INGRESS_TRAFFIC_ALL" : "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
  launch_stage = "GA"
  labels       = var.tags

  template {
    service_account = google_service_account.api.email
    encryption_key  = var.kms_key_id

    scaling {
      min_instance_count = tonumber(lookup(var.settings, "min_instances", "1"))
      max_instance_count = tonumber(lookup(var.settings, "max_instances", "20"))
    }

    containers {
      image = var.container_image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = lookup(var.settings, "cpu", "1")
          memory = lookup(var.settings, "memory", "1Gi")
        }
      }

      startup_probe {
        http_get {
          path = "/readyz"
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
