data "azurerm_client_config" "current" {}

# Names unique across Azure carry a digest of the subscription: two teams who name their projects
# alike can both deploy.
locals {
  subscription_digest = substr(sha1(data.azurerm_client_config.current.subscription_id), 0, 6)
}

# Namespace names are unique across Azure (`<name>.servicebus.windows.net`).
locals {
  namespace_name = "${var.name_prefix}-events-${local.subscription_digest}"
}

resource "azurerm_eventhub_namespace" "events" {
  name                          = local.namespace_name
  location                      = var.region
  resource_group_name           = var.resource_group_name
  sku                           = "Standard"
  capacity                      = var.throughput_units
  auto_inflate_enabled          = true
  maximum_throughput_units      = min(40, var.throughput_units * 2)
  minimum_tls_version           = "1.2"
  local_authentication_enabled  = false
  public_network_access_enabled = var.subnet_id == null
  tags                          = var.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_eventhub" "events" {
  name                = "events"
  namespace_name      = azurerm_eventhub_namespace.events.name
  resource_group_name = var.resource_group_name
  partition_count     = max(4, var.throughput_units)
  message_retention   = 1
}

resource "azurerm_eventhub_consumer_group" "scoring" {
  name                = "scoring"
  namespace_name      = azurerm_eventhub_namespace.events.name
  eventhub_name       = azurerm_eventhub.events.name
  resource_group_name = var.resource_group_name
}
# ---- outputs.tf ----
output "eventhub_namespace_id" {
  description = "Event Hubs namespace receiving the events."
  value       = azurerm_eventhub_namespace.events.id
}
