# Reuses the Kinesis data stream the team already runs: nothing new is built or billed here. Its
# name is the repository's KINESIS_STREAM_NAME variable (existing_stream_name); the stream consumer,
# its permissions and the alarms read this stream as they would read one this repository made.
data "aws_kinesis_stream" "events" {
  name = var.existing_stream_name
}
# ---- outputs.tf ----
output "stream_arn" {
  description = "ARN of the team's existing Kinesis data stream."
  value       = data.aws_kinesis_stream.events.arn
}

output "stream_name" {
  description = "Name of the team's existing Kinesis data stream."
  value       = data.aws_kinesis_stream.events.name
}
