locals {
  frequencies = {
    hourly  = ["Hour", 1]
    daily   = ["Day", 1]
    weekly  = ["Week", 1]
    monthly = ["Month", 1]
  }
  cadence = local.frequencies[lookup(var.settings, "cadence", "daily")]
}

# A scheduled Logic App submits the Azure ML training pipeline job.
resource "azurerm_logic_app_workflow" "retrain" {
  name                = "${var.name_prefix}-retrain"
  location            = var.region
  resource_group_name = var.resource_group_name
  tags                = var.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_logic_app_trigger_recurrence" "retrain" {
  name         = "schedule"
  logic_app_id = azurerm_logic_app_workflow.retrain.id
  frequency    = local.cadence[0]
  interval     = local.cadence[1]
  time_zone    = "UTC"
}

resource "azurerm_logic_app_action_http" "submit" {
  count = var.ml_workspace_id == null ? 0 : 1

  name         = "submit-training-job"
  logic_app_id = azurerm_logic_app_workflow.retrain.id
  method       = "PUT"
  uri          = "https://management.azure.com${var.ml_workspace_id}/jobs/@{guid()}?api-version=2024-04-01"
  body = jsonencode({
    properties = {
      jobType     = "Pipeline"
      displayName = "${var.name_prefix}-retrain"
    }
  })
}
# ---- outputs.tf ----
output "workflow_id" {
  description = "Logic App that schedules retraining."
  value       = azurerm_logic_app_workflow.retrain.id
}
