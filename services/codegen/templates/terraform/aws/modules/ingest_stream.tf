resource "aws_kinesis_stream" "events" {
  name             = "${var.name_prefix}-events"
  retention_period = 24
  encryption_type  = "KMS"
  kms_key_id       = coalesce(var.kms_key_arn, "alias/aws/kinesis")
  tags             = var.tags

  stream_mode_details {
    stream_mode = "ON_DEMAND"
  }
}
# ---- outputs.tf ----
output "stream_arn" {
  description = "ARN of the ingest Kinesis data stream."
  value       = aws_kinesis_stream.events.arn
}

output "stream_name" {
  description = "Name of the ingest Kinesis data stream."
  value       = aws_kinesis_stream.events.name
}
