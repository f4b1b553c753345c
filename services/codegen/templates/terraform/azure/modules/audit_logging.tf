data "azurerm_subscription" "current" {}

resource "azurerm_log_analytics_workspace" "audit" {
  name                = "${var.name_prefix}-audit"
  location            = var.region
  resource_group_name = var.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = 365
  tags                = var.tags
}

resource "azurerm_monitor_diagnostic_setting" "activity" {
  name                       = "${var.name_prefix}-activity"
  target_resource_id         = data.azurerm_subscription.current.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.audit.id

  enabled_log {
    category = "Administrative"
  }

  enabled_log {
    category = "Security"
  }

  enabled_log {
    category = "Policy"
  }
}

resource "azurerm_monitor_diagnostic_setting" "key_vault" {
  count = var.wired_key_vault_id ? 1 : 0

  name                       = "${var.name_prefix}-kv-audit"
  target_resource_id         = var.key_vault_id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.audit.id

  enabled_log {
    category_group = "audit"
  }
}

resource "azurerm_monitor_diagnostic_setting" "storage" {
  count = var.wired_storage_account_id ? 1 : 0

  name                       = "${var.name_prefix}-blob-audit"
  target_resource_id         = "${var.storage_account_id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.audit.id

  enabled_log {
    category_group = "audit"
  }
}
# ---- outputs.tf ----
output "workspace_id" {
  description = "Log Analytics workspace that keeps the audit logs."
  value       = azurerm_log_analytics_workspace.audit.id
}
