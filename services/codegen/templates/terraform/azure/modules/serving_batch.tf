# Container Apps job names hold at most 32 characters: where the full name is longer, the prefix gives way
# to a digest of it (the environment included), and the role is kept.
locals {
  job_name = length("${var.name_prefix}-batch-score") <= 32 ? "${var.name_prefix}-batch-score" : join("-", [
    trimsuffix(substr(var.name_prefix, 0, 11), "-"), "batch-score", substr(sha1(var.name_prefix), 0, 8)
  ])
}

resource "azurerm_log_analytics_workspace" "jobs" {
  name                = "${var.name_prefix}-batch-${var.region}"
  location            = var.region
  resource_group_name = var.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = 90
  tags                = var.tags
}

resource "azurerm_container_app_environment" "batch" {
  name                           = "${var.name_prefix}-batch-${var.region}"
  location                       = var.region
  resource_group_name            = var.resource_group_name
  log_analytics_workspace_id     = azurerm_log_analytics_workspace.jobs.id
  infrastructure_subnet_id       = var.subnet_id
  internal_load_balancer_enabled = var.subnet_id != null
  tags                           = var.tags
}

locals {
  # The job reads scores/input/latest.csv and writes scores/latest.csv in the data lake (the
  # features and raw zones are the training data, which must not take in batch files).
  lake = "scores@${coalesce(var.storage_account_name, "${replace(var.name_prefix, "-", "")}data")}.dfs.core.windows.net"
}

# The job's own identity: it pulls the service image and reads and writes the data lake.
resource "azurerm_user_assigned_identity" "batch" {
  name                = "${var.name_prefix}-batch-${var.region}"
  location            = var.region
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_role_assignment" "lake" {
  count = var.wired_storage_account_id ? 1 : 0

  scope                = var.storage_account_id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.batch.principal_id
}

# The service image is in the bootstrap's registry (see the serving module).
data "azurerm_container_registry" "service" {
  name                = split(".", var.container_image)[0]
  resource_group_name = var.service_registry_resource_group
}

resource "azurerm_role_assignment" "pull_image" {
  scope                = data.azurerm_container_registry.service.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.batch.principal_id
}

# Serverless batch scoring: a scheduled Container Apps job running pipelines/batch_score.py.
resource "azurerm_container_app_job" "batch" {
  name                         = local.job_name
  location                     = var.region
  resource_group_name          = var.resource_group_name
  container_app_environment_id = azurerm_container_app_environment.batch.id
  replica_timeout_in_seconds   = 3600
  replica_retry_limit          = 2
  tags                         = var.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.batch.id]
  }

  registry {
    server   = data.azurerm_container_registry.service.login_server
    identity = azurerm_user_assigned_identity.batch.id
  }

  schedule_trigger_config {
    cron_expression          = var.score_schedule
    parallelism              = 1
    replica_completion_count = 1
  }

  template {
    container {
      name    = "batch-score"
      image   = var.container_image
      command = ["python", "-m", "pipelines.batch_score"]
      cpu     = var.vcpu
      memory  = "${var.vcpu * 2}Gi"

      env {
        name  = "MODEL_URI"
        value = coalesce(var.model_uri, "abfs://models")
      }

      env {
        name  = "BATCH_INPUT_URI"
        value = "abfs://${local.lake}/input/latest.csv"
      }

      env {
        name  = "BATCH_OUTPUT_URI"
        value = "abfs://${local.lake}/latest.csv"
      }

      env {
        name  = "AZURE_CLIENT_ID"
        value = azurerm_user_assigned_identity.batch.client_id
      }
    }
  }

  depends_on = [azurerm_role_assignment.pull_image]
}
# ---- outputs.tf ----
output "job_id" {
  description = "Container Apps job that scores the batch."
  value       = azurerm_container_app_job.batch.id
}
