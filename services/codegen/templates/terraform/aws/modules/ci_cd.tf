# The CI roles, the OIDC provider and the service image repository are account-wide and live in
# infra/bootstrap (applied once). This module looks up this environment's share of them, so a
# plan against an account that was never bootstrapped fails here, naming what is missing.
locals {
  project = regex("^(.*)-[a-z]+$", var.name_prefix)[0]
}

data "aws_iam_openid_connect_provider" "github" {
  url = "https://token.actions.githubusercontent.com"
}

data "aws_iam_role" "deploy" {
  name = "${var.name_prefix}-github-deploy"
}

data "aws_iam_role" "plan" {
  name = "${var.name_prefix}-github-plan"
}

data "aws_ecr_repository" "service" {
  name = "${local.project}-service"
}
# ---- outputs.tf ----
output "deploy_role_arn" {
  description = "Role this environment's deploy jobs assume through OIDC (from infra/bootstrap)."
  value       = data.aws_iam_role.deploy.arn
}

output "plan_role_arn" {
  description = "Read-only role pull requests and main plan this environment with (from infra/bootstrap)."
  value       = data.aws_iam_role.plan.arn
}

output "service_repository_url" {
  description = "Repository the service image is promoted from by digest (from infra/bootstrap)."
  value       = data.aws_ecr_repository.service.repository_url
}
