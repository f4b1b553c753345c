# Reuses the event hub the team already sends its events to: nothing new is billed here. Its
# resource id is the repository's EVENTHUB_ID variable (existing_eventhub_id); the stream job reads
# it through a consumer group of its own, so the team's other readers keep their positions.
locals {
  # /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.EventHub/namespaces/<namespace>/eventhubs/<hub>
  hub_path = split("/", var.existing_eventhub_id)
}

data "azurerm_eventhub" "events" {
  # An id of another shape reads as empty names here, so the precondition below says what is wrong.
  name                = try(local.hub_path[10], "")
  namespace_name      = try(local.hub_path[8], "")
  resource_group_name = try(local.hub_path[4], "")

  lifecycle {
    precondition {
      condition     = can(regex("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.EventHub/namespaces/[^/]+/eventhubs/[^/]+$", var.existing_eventhub_id))
      error_message = "EVENTHUB_ID must be an event hub's resource id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.EventHub/namespaces/<namespace>/eventhubs/<hub>."
    }
  }
}

resource "azurerm_eventhub_consumer_group" "scoring" {
  name                = "${var.name_prefix}-scoring"
  namespace_name      = data.azurerm_eventhub.events.namespace_name
  eventhub_name       = data.azurerm_eventhub.events.name
  resource_group_name = data.azurerm_eventhub.events.resource_group_name
}
# ---- outputs.tf ----
output "eventhub_namespace_id" {
  description = "Event Hubs namespace of the team's existing event hub."
  value       = join("/", slice(local.hub_path, 0, 9))
}

output "eventhub_namespace_name" {
  description = "Name of that namespace (<name>.servicebus.windows.net)."
  value       = data.azurerm_eventhub.events.namespace_name
}

output "eventhub_name" {
  description = "The team's existing event hub the events arrive on."
  value       = data.azurerm_eventhub.events.name
}

output "eventhub_id" {
  description = "Id of that event hub, the scope of the consumers' receive grants."
  value       = data.azurerm_eventhub.events.id
}

output "consumer_group_name" {
  description = "Consumer group of this system's stream job on the team's hub."
  value       = azurerm_eventhub_consumer_group.scoring.name
}
