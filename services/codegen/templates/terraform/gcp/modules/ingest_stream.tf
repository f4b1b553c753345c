resource "google_pubsub_topic" "events" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-events"
  kms_key_name               = var.kms_key_id
  message_retention_duration = "86400s"
  labels                     = var.tags

  message_storage_policy {
    allowed_persistence_regions = [var.region]
  }
}

resource "google_pubsub_topic" "dead_letter" {
  project      = var.project_id
  name         = "${var.name_prefix}-events-dead-letter"
  kms_key_name = var.kms_key_id
  labels       = var.tags
}
# A topic keeps nothing without a subscription: this one holds the dead letters for a week, to be
# looked at and published to the events topic again once their cause is fixed.
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
  description = "Pub/Sub topic receiving the events."
  value       = google_pubsub_topic.events.id
}

output "dead_letter_topic_id" {
  description = "Pub/Sub topic for events that failed processing."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription" {
  description = "Subscription holding the events the stream processing gave up on."
  value       = google_pubsub_subscription.dead_letter.name
}
