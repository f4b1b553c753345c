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

# Serverless batch scoring: a scheduled Container Apps job running pipelines/batch_score.py.
resource "azurerm_container_app_job" "batch" {
  name                         = "${var.name_prefix}-batch-score"
  location                     = var.region
  resource_group_name          = var.resource_group_name
  container_app_environment_id = azurerm_container_app_environment.batch.id
  replica_timeout_in_seconds   = 3600
  replica_retry_limit          = 2
  tags                         = var.tags

  identity {
    type = "SystemAssigned"
  }

  schedule_trigger_config {
    cron_expression          = "0 4 * * *"
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
    }
  }
}
# ---- outputs.tf ----
output "job_id" {
  description = "Container Apps job that scores the batch."
  value       = azurerm_container_app_job.batch.id
}
