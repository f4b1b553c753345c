output "state_bucket" {
  description = "Bucket of every environment's Terraform state (GitHub variable TF_STATE_BUCKET)."
  value       = aws_s3_bucket.state.bucket
}

output "account_id" {
  description = "Account id (GitHub variable AWS_ACCOUNT_ID); the workflows build the role ARNs from it."
  value       = local.account_id
}

output "service_repository_url" {
  description = "Repository the service image is pushed to once and promoted from by digest."
  value       = aws_ecr_repository.service.repository_url
}

output "deploy_role_arns" {
  description = "Per environment: the role its deploy jobs assume."
  value       = { for env, role in aws_iam_role.deploy : env => role.arn }
}

output "plan_role_arns" {
  description = "Per environment: the read-only role pull requests and main plan with."
  value       = { for env, role in aws_iam_role.plan : env => role.arn }
}
