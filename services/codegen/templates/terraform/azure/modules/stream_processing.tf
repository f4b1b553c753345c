# The job reads the ingest event hub as its own identity and writes what its query selects into the
# lake's scores container, under stream/dt=<date>/<hour>, as JSON lines. The query is the team's:
# as built it passes each event through with the end of its window, and the job is created stopped,
# to be started (`az stream-analytics job start`) once the query scores the events.
resource "azurerm_stream_analytics_job" "scoring" {
  name                                     = "${var.name_prefix}-stream"
  location                                 = var.region
  resource_group_name                      = var.resource_group_name
  compatibility_level                      = "1.2"
  data_locale                              = "en-US"
  events_late_arrival_max_delay_in_seconds = 60
  events_out_of_order_max_delay_in_seconds = 50
  events_out_of_order_policy               = "Adjust"
  output_error_policy                      = "Stop"
  streaming_units                          = var.streaming_units
  tags                                     = var.tags
  transformation_query                     = <<-QUERY
    SELECT *, System.Timestamp() AS window_end
    INTO [scored]
    FROM [events] TIMESTAMP BY event_time
  QUERY

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_stream_analytics_stream_input_eventhub_v2" "events" {
  count = var.wired_eventhub_name ? 1 : 0

  name                         = "events"
  stream_analytics_job_id      = azurerm_stream_analytics_job.scoring.id
  servicebus_namespace         = var.eventhub_namespace_name
  eventhub_name                = var.eventhub_name
  eventhub_consumer_group_name = var.eventhub_consumer_group
  authentication_mode          = "Msi"

  serialization {
    type     = "Json"
    encoding = "UTF8"
  }

  depends_on = [azurerm_role_assignment.receive]
}

resource "azurerm_stream_analytics_output_blob" "scored" {
  count = var.wired_storage_account_name ? 1 : 0

  name                      = "scored"
  stream_analytics_job_name = azurerm_stream_analytics_job.scoring.name
  resource_group_name       = var.resource_group_name
  storage_account_name      = var.storage_account_name
  storage_container_name    = "scores"
  path_pattern              = "stream/dt={date}/{time}"
  date_format               = "yyyy-MM-dd"
  time_format               = "HH"
  authentication_mode       = "Msi"

  serialization {
    type     = "Json"
    encoding = "UTF8"
    format   = "LineSeparated"
  }

  depends_on = [azurerm_role_assignment.write_scores]
}

# The job's identity receives from the ingest hub and writes the scores container, nothing else.
resource "azurerm_role_assignment" "receive" {
  count = var.wired_eventhub_id ? 1 : 0

  scope                = var.eventhub_id
  role_definition_name = "Azure Event Hubs Data Receiver"
  principal_id         = azurerm_stream_analytics_job.scoring.identity[0].principal_id
}

resource "azurerm_role_assignment" "write_scores" {
  count = var.wired_storage_account_id ? 1 : 0

  scope                = "${var.storage_account_id}/blobServices/default/containers/scores"
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_stream_analytics_job.scoring.identity[0].principal_id
}
# ---- outputs.tf ----
output "job_id" {
  description = "Stream Analytics job that windows and routes the events for scoring."
  value       = azurerm_stream_analytics_job.scoring.id
}

output "job_name" {
  description = "Name of that job, to start once its query scores the events."
  value       = azurerm_stream_analytics_job.scoring.name
}
