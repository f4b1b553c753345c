data "azurerm_client_config" "current" {}

# Names unique across Azure carry a digest of the subscription: two teams who name their projects
# alike can both deploy.
locals {
  subscription_digest = substr(sha1(data.azurerm_client_config.current.subscription_id), 0, 6)
}

# Data Factory names are unique across Azure.
locals {
  factory_name = "${var.name_prefix}-retrain-${local.subscription_digest}"
}

locals {
  # The run's Azure ML job, named by the pipeline run.
  job_url = "@concat('https://management.azure.com${coalesce(var.ml_workspace_id, "/")}/jobs/', pipeline().RunId, '?api-version=2024-04-01')"
  # The service image as an Azure ML environment version (the workspace's), named by the image.
  environment_id = "${coalesce(var.ml_workspace_id, "/")}/environments/${var.name_prefix}-service/versions/${substr(sha1(var.container_image), 0, 12)}"
}

# Scheduled retraining with Azure Data Factory: a schedule trigger starts a pipeline that submits an
# Azure ML command job running the service image's training entry point
# (python -m services.training.train) with DATA_URI, MODEL_URI and RUN_ID, and follows it to its end.
resource "azurerm_data_factory" "retrain" {
  # checkov:skip=CKV_AZURE_103:The pipeline is defined in this repository's Terraform, which is already under Git review.
  # checkov:skip=CKV2_AZURE_15:The factory stores only a pipeline definition and trigger, no data; platform-managed keys suffice.
  name                   = local.factory_name
  location               = var.region
  resource_group_name    = var.resource_group_name
  public_network_enabled = false
  tags                   = var.tags

  identity {
    type = "SystemAssigned"
  }
}

# The factory may submit jobs to the workspace, nothing else.
resource "azurerm_role_assignment" "submit_jobs" {
  count = var.wired_ml_workspace_id ? 1 : 0

  scope                = var.ml_workspace_id
  role_definition_name = "AzureML Data Scientist"
  principal_id         = azurerm_data_factory.retrain.identity[0].principal_id
}

resource "azurerm_data_factory_pipeline" "retrain" {
  name            = "retrain"
  data_factory_id = azurerm_data_factory.retrain.id
  parameters = {
    data_uri  = ""
    model_uri = ""
  }
  variables = {
    status = ""
  }
  activities_json = jsonencode([{
    # The job's environment is the service image this deploy pushed, registered under a version
    # named by its digest. Versions are immutable: once registered, the PUT of a later run fails
    # and the job runs on the version already there.
    name = "register-environment"
    type = "WebActivity"
    typeProperties = {
      method         = "PUT"
      url            = "https://management.azure.com${local.environment_id}?api-version=2024-04-01"
      authentication = { type = "MSI", resource = "https://management.azure.com/" }
      body           = { properties = { image = var.container_image, osType = "Linux" } }
    }
    }, {
    name      = "submit-training-job"
    type      = "WebActivity"
    dependsOn = [{ activity = "register-environment", dependencyConditions = ["Completed"] }]
    typeProperties = {
      method         = "PUT"
      url            = local.job_url
      authentication = { type = "MSI", resource = "https://management.azure.com/" }
      body = {
        properties = {
          jobType       = "Command"
          displayName   = "${var.name_prefix}-retrain"
          command       = "python -m services.training.train"
          environmentId = local.environment_id
          computeId     = "${coalesce(var.ml_workspace_id, "/")}/computes/${coalesce(var.training_compute_name, "training")}"
          environmentVariables = {
            DATA_URI  = "@pipeline().parameters.data_uri"
            MODEL_URI = "@pipeline().parameters.model_uri"
            RUN_ID    = "@pipeline().RunId"
          }
        }
      }
    }
    }, {
    # The run lasts as long as the job and fails with it: a failed training pages (job_failed
    # counts failed pipeline runs) and the Airflow DAG sees its end.
    name      = "wait-for-training"
    type      = "Until"
    dependsOn = [{ activity = "submit-training-job", dependencyConditions = ["Succeeded"] }]
    typeProperties = {
      expression = { type = "Expression", value = "@contains(createArray('Completed', 'Failed', 'Canceled', 'NotResponding'), variables('status'))" }
      timeout    = "1.00:00:00"
      activities = [{
        name           = "pause"
        type           = "Wait"
        typeProperties = { waitTimeInSeconds = 60 }
        }, {
        name      = "get-status"
        type      = "WebActivity"
        dependsOn = [{ activity = "pause", dependencyConditions = ["Succeeded"] }]
        typeProperties = {
          method         = "GET"
          url            = local.job_url
          authentication = { type = "MSI", resource = "https://management.azure.com/" }
        }
        }, {
        name           = "keep-status"
        type           = "SetVariable"
        dependsOn      = [{ activity = "get-status", dependencyConditions = ["Succeeded"] }]
        typeProperties = { variableName = "status", value = "@activity('get-status').output.properties.status" }
      }]
    }
    }, {
    name      = "fail-with-training"
    type      = "IfCondition"
    dependsOn = [{ activity = "wait-for-training", dependencyConditions = ["Succeeded"] }]
    typeProperties = {
      expression = { type = "Expression", value = "@not(equals(variables('status'), 'Completed'))" }
      ifTrueActivities = [{
        name           = "training-failed"
        type           = "Fail"
        typeProperties = { message = "@concat('training job ', pipeline().RunId, ' ended ', variables('status'))", errorCode = "TrainingFailed" }
      }]
    }
  }])
}

# Retraining starts on the plan's schedule, or, where the plan reuses the team's Airflow
# (retrain_trigger = "airflow"), from the DAG in dags/, which runs this pipeline.
resource "azurerm_data_factory_trigger_schedule" "retrain" {
  count = var.retrain_trigger == "schedule" ? 1 : 0

  name            = "retrain"
  data_factory_id = azurerm_data_factory.retrain.id
  pipeline_name   = azurerm_data_factory_pipeline.retrain.name
  frequency       = var.retrain_schedule
  interval        = 1
  time_zone       = "UTC"

  pipeline_parameters = {
    data_uri  = coalesce(var.data_uri, "")
    model_uri = coalesce(var.model_uri, "")
  }
}
# The schedule was one resource before it became optional: state written then moves, not replaced.
moved {
  from = azurerm_data_factory_trigger_schedule.retrain
  to   = azurerm_data_factory_trigger_schedule.retrain[0]
}
# ---- outputs.tf ----
output "data_factory_id" {
  description = "Data Factory whose schedule trigger starts retraining."
  value       = azurerm_data_factory.retrain.id
}

output "factory_name" {
  description = "Name of the Data Factory running the retraining pipeline."
  value       = azurerm_data_factory.retrain.name
}

output "resource_group_name" {
  description = "Resource group of that Data Factory."
  value       = var.resource_group_name
}

output "pipeline_name" {
  description = "The retraining pipeline, which runs the Azure ML training job to its end."
  value       = azurerm_data_factory_pipeline.retrain.name
}

output "data_uri" {
  description = "Prefix the training job reads its data from (the pipeline's data_uri)."
  value       = coalesce(var.data_uri, "")
}

output "model_uri" {
  description = "Prefix the training job writes model versions under (the pipeline's model_uri)."
  value       = coalesce(var.model_uri, "")
}
