# The serving code logs one structured line per prediction error; this metric counts them.
resource "google_logging_metric" "prediction_errors" {
  project = var.project_id
  name    = "${var.name_prefix}-prediction-errors"
  filter  = "jsonPayload.event=\"prediction_error\" AND labels.service=\"${var.name_prefix}\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_monitoring_alert_policy" "errors" {
  project      = var.project_id
  display_name = "${var.name_prefix} prediction errors"
  combiner     = "OR"
  user_labels  = var.tags

  conditions {
    display_name = "Prediction errors above threshold"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.prediction_errors.name}\" AND resource.type=\"global\""
      comparison      = "COMPARISON_GT"
      threshold_value = tonumber(lookup(var.settings, "error_threshold", "5"))
      duration        = "300s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    content   = "Prediction errors exceeded the tolerated rate. Check the serving logs and the latest model version."
    mime_type = "text/markdown"
  }
}
# ---- outputs.tf ----
output "alert_policy_id" {
  description = "Alert policy on prediction errors."
  value       = google_monitoring_alert_policy.errors.id
}
