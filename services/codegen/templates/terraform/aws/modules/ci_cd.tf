# GitHub Actions deploys with short-lived OIDC credentials; no access keys exist.
resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

data "aws_iam_policy_document" "deploy_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:*", "repo:${var.github_repository}:pull_request"]
    }
  }
}

# Attach the deploy permissions (or permissions boundary) your organisation grants to CI.
resource "aws_iam_role" "deploy" {
  name               = "${var.name_prefix}-github-deploy"
  assume_role_policy = data.aws_iam_policy_document.deploy_assume.json
  tags               = var.tags
}

resource "aws_ecr_repository" "service" {
  name                 = "${var.name_prefix}-service"
  image_tag_mutability = "IMMUTABLE"
  tags                 = var.tags

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = var.kms_key_arn == null ? "AES256" : "KMS"
    kms_key         = var.kms_key_arn
  }
}
# ---- outputs.tf ----
output "deploy_role_arn" {
  description = "Role GitHub Actions assumes through OIDC (store it as the AWS_DEPLOY_ROLE_ARN secret)."
  value       = aws_iam_role.deploy.arn
}

output "service_repository_url" {
  description = "ECR repository that CI pushes the service image to."
  value       = aws_ecr_repository.service.repository_url
}
