# Reuses the Pub/Sub topic the team already publishes its events to. Its id is the repository's
# PUBSUB_TOPIC variable (existing_topic_id); the stream consumer subscribes to it as it would to a
# topic this repository made, and what it gives up on goes to a dead-letter topic of this system's own.
locals {
  # projects/<project>/topics/<topic>
  topic_path = split("/", var.existing_topic_id)
}

data "google_pubsub_topic" "events" {
  # An id of another shape reads as empty names here, so the precondition below says what is wrong.
  project = try(local.topic_path[1], "")
  name    = try(local.topic_path[3], "")

  lifecycle {
    precondition {
      condition     = can(regex("^projects/[^/]+/topics/[^/]+$", var.existing_topic_id))
      error_message = "PUBSUB_TOPIC must be a topic's id: projects/<project>/topics/<topic>."
    }
  }
}

resource "google_pubsub_topic" "dead_letter" {
  project      = var.project_id
  name         = "${var.name_prefix}-events-dead-letter"
  kms_key_name = var.kms_key_id
  labels       = var.tags
}
# A topic keeps nothing without a subscription: this one holds the dead letters for a week, to be
# looked at and published to the team's topic again once their cause is fixed.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-events-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60
  labels                     = var.tags
}
# ---- outputs.tf ----
output "topic_id" {
  description = "The team's existing Pub/Sub topic the events arrive on."
  value       = data.google_pubsub_topic.events.id
}

output "dead_letter_topic_id" {
  description = "Pub/Sub topic for events that failed processing."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription" {
  description = "Subscription holding the events the stream processing gave up on."
  value       = google_pubsub_subscription.dead_letter.name
}
