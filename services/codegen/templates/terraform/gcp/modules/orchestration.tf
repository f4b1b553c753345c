# A service account id holds 6 to 30 characters: where the full name is longer, the prefix gives
# way to a digest of the full name, and the role is kept, so ids stay unique within the project.
locals {
  account_names = {
    flow    = "${var.name_prefix}-flow"
    airflow = "${var.name_prefix}-airflow"
  }
  account_ids = {
    for role, full in local.account_names : role => length(full) <= 30 ? full : join("-", [
      trimsuffix(substr(var.name_prefix, 0, 19 - length(role)), "-"), role, substr(sha1(full), 0, 8)
    ])
  }
}

locals {
  bucket    = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
  data_uri  = "gs://${local.bucket}/raw"
  model_uri = coalesce(var.model_uri, "gs://${local.bucket}/models")
  # What a run of the workflow is given, by the schedule or by the team's Airflow.
  argument = jsonencode({
    data_uri        = local.data_uri
    model_uri       = local.model_uri
    image           = var.container_image
    machine_type    = var.training_machine_type
    service_account = var.training_service_account
  })
}

resource "google_service_account" "workflow" {
  project      = var.project_id
  account_id   = local.account_ids["flow"]
  display_name = "Training workflow"
}

resource "google_project_iam_member" "workflow" {
  for_each = toset(["roles/aiplatform.user", "roles/workflows.invoker", "roles/logging.logWriter"])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.workflow.email}"
}

# The workflow launches jobs that run as the training identity.
resource "google_service_account_iam_member" "run_as_training" {
  count = var.wired_training_service_account ? 1 : 0

  service_account_id = "projects/${var.project_id}/serviceAccounts/${var.training_service_account}"
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.workflow.email}"
}

resource "google_workflows_workflow" "train" {
  project         = var.project_id
  name            = "${var.name_prefix}-train"
  region          = var.region
  description     = "Run the Vertex AI training job to its end."
  service_account = google_service_account.workflow.id
  crypto_key_name = var.kms_key_id
  labels          = var.tags
  # The run: one Vertex AI custom job running the service image's training entry point with
  # DATA_URI, MODEL_URI and RUN_ID, followed until it ends; the scheduler passes every input as the
  # execution argument.
  source_contents = <<-YAML
    main:
      params: [args]
      steps:
        - init:
            assign:
              - run_id: $${sys.get_env("GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID")}
              - location: $${sys.get_env("GOOGLE_CLOUD_LOCATION")}
              - project: $${sys.get_env("GOOGLE_CLOUD_PROJECT_ID")}
        - train:
            call: http.post
            args:
              url: $${"https://" + location + "-aiplatform.googleapis.com/v1/projects/" + project + "/locations/" + location + "/customJobs"}
              auth:
                type: OAuth2
              body:
                displayName: $${"train-" + run_id}
                jobSpec:
                  serviceAccount: $${args.service_account}
                  workerPoolSpecs:
                    - replicaCount: 1
                      machineSpec:
                        machineType: $${args.machine_type}
                      containerSpec:
                        imageUri: $${args.image}
                        command: ["python", "-m", "services.training.train"]
                        env:
                          - name: DATA_URI
                            value: $${args.data_uri}
                          - name: MODEL_URI
                            value: $${args.model_uri}
                          - name: RUN_ID
                            value: $${run_id}
            result: job
        # The execution lasts as long as the job and fails with it: a failed training pages
        # (job_failed counts failed executions) and the Airflow DAG sees its end.
        - wait:
            call: sys.sleep
            args:
              seconds: 60
        - poll:
            call: http.get
            args:
              url: $${"https://" + location + "-aiplatform.googleapis.com/v1/" + job.body.name}
              auth:
                type: OAuth2
            result: status
        - finished:
            switch:
              - condition: $${status.body.state == "JOB_STATE_SUCCEEDED"}
                return: $${job.body.name}
              - condition: $${status.body.state in ["JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"]}
                raise: $${"training job " + job.body.name + " ended in " + status.body.state}
            next: wait
  YAML
}

# Retraining starts on the plan's schedule, or, where the plan reuses the team's Airflow
# (retrain_trigger = "airflow"), from the DAG in dags/, as the account below.
resource "google_cloud_scheduler_job" "retrain" {
  count = var.retrain_trigger == "schedule" ? 1 : 0

  project   = var.project_id
  name      = "${var.name_prefix}-retrain"
  region    = var.region
  schedule  = var.retrain_schedule
  time_zone = "Etc/UTC"

  http_target {
    http_method = "POST"
    uri         = "https://workflowexecutions.googleapis.com/v1/${google_workflows_workflow.train.id}/executions"
    body        = base64encode(jsonencode({ argument = local.argument }))

    oauth_token {
      service_account_email = google_service_account.workflow.email
    }
  }
}
# The schedule was one resource before it became optional: state written then moves, not replaced.
moved {
  from = google_cloud_scheduler_job.retrain
  to   = google_cloud_scheduler_job.retrain[0]
}

# The team's Airflow starts the workflow as this account (the team lets its Airflow's own account
# impersonate it): it may run and read workflow executions in the project, nothing else.
resource "google_service_account" "airflow" {
  count = var.retrain_trigger == "airflow" ? 1 : 0

  project      = var.project_id
  account_id   = local.account_ids["airflow"]
  display_name = "Starts the training workflow from the team's Airflow"
}

resource "google_project_iam_member" "airflow" {
  count = var.retrain_trigger == "airflow" ? 1 : 0

  project = var.project_id
  role    = "roles/workflows.invoker"
  member  = "serviceAccount:${google_service_account.airflow[0].email}"
}
# ---- outputs.tf ----
output "workflow_id" {
  description = "Cloud Workflows workflow that trains and registers the model."
  value       = google_workflows_workflow.train.id
}

output "workflow_name" {
  description = "Name of the training workflow, in the module's region."
  value       = google_workflows_workflow.train.name
}

output "execution_argument" {
  description = "The argument a run of the workflow is given (JSON): data, model prefix, image, machine, account."
  value       = local.argument
}

output "airflow_service_account" {
  description = "Account the team's Airflow starts the workflow as; null where a schedule starts it."
  value       = try(google_service_account.airflow[0].email, null)
}
