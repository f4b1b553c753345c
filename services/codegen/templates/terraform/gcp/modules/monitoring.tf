# Alerts on the model's metrics. The metrics, their emitters and the thresholds come from one
# table (docs/runbook.md lists them): the serving code writes one structured log line per
# sampled request, from which the log-based metrics below are counted; the drift workflow writes
# the drift value the same way.
locals {
  environment = regex("-([a-z]+)$", var.name_prefix)[0]
  # Serving on Cloud Run, or in the environment's namespace of a GKE cluster (OR binds tighter than AND
  # in the logging query language, hence the parentheses).
  serving = "((resource.type=\"cloud_run_revision\" AND resource.labels.service_name=~\"^${var.name_prefix}-\") OR (resource.type=\"k8s_container\" AND resource.labels.namespace_name=\"${var.name_prefix}\")) AND jsonPayload.event=\"prediction\""
}

resource "google_monitoring_notification_channel" "oncall" {
  project      = var.project_id
  display_name = "${var.name_prefix} on-call"
  type         = "email"
  user_labels  = var.tags
  labels = {
    email_address = var.alert_email
  }
}
# ---- outputs.tf ----
output "notification_channel_id" {
  description = "Notification channel every alert policy notifies."
  value       = google_monitoring_notification_channel.oncall.id
}
