# A service account id holds 6 to 30 characters: where the full name is longer, the prefix gives
# way to a digest of the full name, and the role is kept, so ids stay unique within the project.
locals {
  account_names = {
    stream = "${var.name_prefix}-stream"
    push   = "${var.name_prefix}-push"
  }
  account_ids = {
    for role, full in local.account_names : role => length(full) <= 30 ? full : join("-", [
      trimsuffix(substr(var.name_prefix, 0, 19 - length(role)), "-"), role, substr(sha1(full), 0, 8)
    ])
  }
}

locals {
  # gs://bucket/prefix of the model registry; the consumer scores with the approved version.
  model_uri    = coalesce(var.model_uri, "gs://${coalesce(var.data_bucket_name, "${var.name_prefix}-data")}/models")
  model_bucket = split("/", trimprefix(local.model_uri, "gs://"))[0]
  # The lake prefix each pushed message's scores are written under (pipelines/stream_consumer.py).
  lake_bucket = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
  scores_uri  = "gs://${local.lake_bucket}/scores/stream"
}

resource "google_service_account" "consumer" {
  project      = var.project_id
  account_id   = local.account_ids["stream"]
  display_name = "Stream consumer"
}

# The consumer reads the approved model and writes scores. Object user, not creator: a
# redelivered message rewrites its own file, which needs the right to replace an object.
resource "google_storage_bucket_iam_member" "models" {
  bucket = local.model_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.consumer.email}"
}

resource "google_storage_bucket_iam_member" "scores" {
  bucket = local.lake_bucket
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.consumer.email}"
}

# The consumer runs pipelines/stream_consumer.py behind Pub/Sub push, scaled by Cloud Run.
resource "google_cloud_run_v2_service" "consumer" {
  project      = var.project_id
  name         = "${var.name_prefix}-stream-consumer"
  location     = var.region
  ingress      = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  launch_stage = "GA"
  labels       = var.tags

  template {
    service_account = google_service_account.consumer.email
    encryption_key  = var.kms_key_id

    scaling {
      min_instance_count = 1
      max_instance_count = var.max_instances
    }

    containers {
      image   = var.container_image
      command = ["python", "-m", "pipelines.stream_consumer", "--serve"]

      env {
        name  = "MODEL_URI"
        value = local.model_uri
      }

      env {
        name  = "SCORES_URI"
        value = local.scores_uri
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "1Gi"
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

resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = local.account_ids["push"]
  display_name = "Pub/Sub push identity"
}

resource "google_cloud_run_v2_service_iam_member" "push" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.consumer.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

resource "google_pubsub_subscription" "consumer" {
  count = var.wired_topic_id ? 1 : 0

  project              = var.project_id
  name                 = "${var.name_prefix}-stream-consumer"
  topic                = var.topic_id
  ack_deadline_seconds = 30
  labels               = var.tags

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.consumer.uri}/events"

    oidc_token {
      service_account_email = google_service_account.push.email
    }
  }

  retry_policy {
    minimum_backoff = "5s"
    maximum_backoff = "300s"
  }

  # An event the consumer keeps failing on (no approved model yet, the lake unreachable) moves to
  # the stream's dead-letter topic after ten attempts instead of expiring unseen.
  dynamic "dead_letter_policy" {
    for_each = var.wired_dead_letter_topic_id ? [var.dead_letter_topic_id] : []

    content {
      dead_letter_topic     = dead_letter_policy.value
      max_delivery_attempts = 10
    }
  }
}

# Pub/Sub's own service agent moves the events: it publishes to the dead-letter topic and
# acknowledges them on the consumer's subscription.
data "google_project" "this" {
  project_id = var.project_id
}

resource "google_pubsub_topic_iam_member" "dead_letter" {
  count = var.wired_dead_letter_topic_id ? 1 : 0

  project = var.project_id
  topic   = var.dead_letter_topic_id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "dead_letter" {
  count = var.wired_topic_id && var.wired_dead_letter_topic_id ? 1 : 0

  project      = var.project_id
  subscription = google_pubsub_subscription.consumer[0].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
# ---- outputs.tf ----
output "consumer_subscription" {
  description = "Push subscription feeding the consumer; null when no stream is wired (its lag is watched)."
  value       = one(google_pubsub_subscription.consumer[*].name)
}

output "service_uri" {
  description = "Internal URL of the stream consumer service."
  value       = google_cloud_run_v2_service.consumer.uri
}
