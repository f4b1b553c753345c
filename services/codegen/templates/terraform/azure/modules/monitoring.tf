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
  short_name          = "mlops"
  tags                = var.tags
}

resource "azurerm_monitor_metric_alert" "errors" {
  name                = "${var.name_prefix}-prediction-errors"
  resource_group_name = var.resource_group_name
  scopes              = [azurerm_application_insights.model.id]
  description         = "Prediction errors above the tolerated rate."
  severity            = 2
  frequency           = "PT5M"
  window_size         = "PT15M"
  tags                = var.tags

  criteria {
    metric_namespace = "microsoft.insights/components"
    metric_name      = "exceptions/count"
    aggregation      = "Count"
    operator         = "GreaterThan"
    threshold        = tonumber(lookup(var.settings, "error_threshold", "5"))
  }

  action {
    action_group_id = azurerm_monitor_action_group.oncall.id
  }
}
# ---- outputs.tf ----
output "app_insights_id" {
  description = "Application Insights resource whose connection string the services read at runtime."
  value       = azurerm_application_insights.model.id
}
