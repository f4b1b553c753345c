# Alerts on the model's metrics. The metrics, their emitters and the thresholds come from one
# table (docs/runbook.md lists them): the serving code writes one structured log line per
# sampled request, which the log search alerts below aggregate; the drift workflow publishes the
# drift as a custom metric of Application Insights.
locals {
  environment = regex("-([a-z]+)$", var.name_prefix)[0]
}

resource "azurerm_log_analytics_workspace" "monitoring" {
  name                = "${var.name_prefix}-monitoring"
  location            = var.region
  resource_group_name = var.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = 90
  tags                = var.tags
}

resource "azurerm_application_insights" "model" {
  name                = "${var.name_prefix}-model"
  location            = var.region
  resource_group_name = var.resource_group_name
  workspace_id        = azurerm_log_analytics_workspace.monitoring.id
  application_type    = "web"
  tags                = var.tags
}

resource "azurerm_monitor_action_group" "oncall" {
  name                = "${var.name_prefix}-oncall"
  resource_group_name = var.resource_group_name
  short_name          = "oncall"
  tags                = var.tags

  email_receiver {
    name                    = "on-call"
    email_address           = var.alert_email
    use_common_alert_schema = true
  }
}
# ---- outputs.tf ----
output "app_insights_id" {
  description = "Application Insights resource the drift workflow publishes FeatureDriftPSI to."
  value       = azurerm_application_insights.model.id
}

output "action_group_id" {
  description = "Action group every alert notifies."
  value       = azurerm_monitor_action_group.oncall.id
}
