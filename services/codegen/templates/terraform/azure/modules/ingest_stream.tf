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
  public_network_access_enabled = true
  tags                          = var.tags

  identity {
    type = "SystemAssigned"
  }

  # In a private network the namespace admits the private subnet (its Event Hubs service endpoint)
  # and trusted Azure services acting as their own identity, such as the Stream Analytics job that
  # reads the hub; every other network is refused.
  dynamic "network_rulesets" {
    for_each = var.wired_subnet_id ? [var.subnet_id] : []

    content {
      default_action                 = "Deny"
      public_network_access_enabled  = true
      trusted_service_access_enabled = true

      virtual_network_rule {
        subnet_id = network_rulesets.value
      }
    }
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

output "eventhub_namespace_name" {
  description = "Name of the Event Hubs namespace (<name>.servicebus.windows.net), which producers and consumers connect to."
  value       = azurerm_eventhub_namespace.events.name
}

output "eventhub_name" {
  description = "Event hub the producers send the events to."
  value       = azurerm_eventhub.events.name
}

output "eventhub_id" {
  description = "Id of that event hub, the scope of the consumers' receive grants."
  value       = azurerm_eventhub.events.id
}

output "consumer_group_name" {
  description = "Consumer group the scoring job reads the events as."
  value       = azurerm_eventhub_consumer_group.scoring.name
}
