locals {
  schedules = {
    hourly  = "0 * * * *"
    daily   = "0 3 * * *"
    weekly  = "0 3 * * 1"
    monthly = "0 3 1 * *"
  }
}

resource "google_service_account" "workflow" {
  project      = var.project_id
  account_id   = substr("${var.name_prefix}-flow", 0, 30)
  display_name = "Training workflow"
}

resource "google_project_iam_member" "workflow" {
  for_each = toset(["roles/aiplatform.user", "roles/workflows.invoker", "roles/logging.logWriter"])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.workflow.email}"
}

resource "google_workflows_workflow" "train" {
  project         = var.project_id
  name            = "${var.name_prefix}-train"
  region          = var.region
  description     = "Launch the Vertex AI training job, then register the model."
  service_account = google_service_account.workflow.id
  crypto_key_name = var.kms_key_id
  labels          = var.tags
  source_contents = <<-YAML
    main:
      params: [args]
      steps:
        - train:
            call: http.post
            args:
              url: $${"https://" + sys.get_env("GOOGLE_CLOUD_LOCATION") + "-aiplatform.googleapis.com/v1/projects/" + sys.get_env("GOOGLE_CLOUD_PROJECT_ID") + "/locations/" + sys.get_env("GOOGLE_CLOUD_LOCATION") + "/customJobs"}
              auth:
                type: OAuth2
              body: $${args.job}
            result: job
        - done:
            return: $${job.body.name}
  YAML
}

resource "google_cloud_scheduler_job" "retrain" {
  project   = var.project_id
  name      = "${var.name_prefix}-retrain"
  region    = var.region
  schedule  = local.schedules[lookup(var.settings, "cadence", "daily")]
  time_zone = "Etc/UTC"

  http_target {
    http_method = "POST"
    uri         = "https://workflowexecutions.googleapis.com/v1/${google_workflows_workflow.train.id}/executions"

    oauth_token {
      service_account_email = google_service_account.workflow.email
    }
  }
}
# ---- outputs.tf ----
output "workflow_id" {
  description = "Cloud Workflows workflow that trains and registers the model."
  value       = google_workflows_workflow.train.id
}
