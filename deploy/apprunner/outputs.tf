output "gateway_url" {
  description = "The platform's public URL (REST, SSE, web page)."
  value       = "https://${aws_apprunner_service.svc["gateway"].service_url}"
}

output "artifact_bucket" {
  value = aws_s3_bucket.artifacts.bucket
}

output "database_proxy_endpoint" {
  value = aws_db_proxy.this.endpoint
}

output "nats_url" {
  description = "NATS_URL of the services: every server of the cluster."
  value       = local.nats_url
}

output "database_url_secret_arn" {
  description = "Secrets Manager secret holding DATABASE_URL (run `amp db upgrade` with it before the services start)."
  value       = aws_secretsmanager_secret.database_url.arn
}
