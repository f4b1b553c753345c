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
# ---- outputs.tf ----
output "job_id" {
  description = "Stream Analytics job that windows and routes the events for scoring."
  value       = azurerm_stream_analytics_job.scoring.id
}
