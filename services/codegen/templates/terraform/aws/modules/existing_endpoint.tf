# Reuses a system the team already runs: nothing new is built. The module records where to reach
# it as an SSM parameter the services read; the team sets the value once, outside the repository.
resource "aws_ssm_parameter" "endpoint" {
  # checkov:skip=CKV2_AWS_34:An endpoint address is not a secret; credentials stay in the team's secret store.
  name        = "/${var.name_prefix}/${basename(path.module)}/endpoint"
  description = "Endpoint of the existing system this capability reuses (set by the team)."
  type        = "String"
  value       = "set-me"
  tags        = var.tags

  lifecycle {
    ignore_changes = [value]
  }
}
# ---- outputs.tf ----
output "endpoint_parameter" {
  description = "SSM parameter holding the existing system's endpoint."
  value       = aws_ssm_parameter.endpoint.name
}
