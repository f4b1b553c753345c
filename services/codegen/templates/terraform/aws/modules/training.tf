data "aws_partition" "current" {}

locals {
  bucket_arn = coalesce(var.data_bucket_arn, "arn:${data.aws_partition.current.partition}:s3:::${var.name_prefix}-data")
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
  }
}

# Execution role of the training jobs: read features, write model artifacts, nothing else.
resource "aws_iam_role" "training" {
  name               = "${var.name_prefix}-training"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "training" {
  name = "data-access"
  role = aws_iam_role.training.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
        Resource = [local.bucket_arn, "${local.bucket_arn}/*"]
      },
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        Resource = "*"
      },
      # With a customer-managed key, the lake's objects, the model artifacts the job writes and the
      # training image are encrypted with it.
      ], var.kms_key_arn == null ? [] : [{
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = var.kms_key_arn
    }])
  })
}

resource "aws_ecr_repository" "training" {
  name                 = "${var.name_prefix}-training"
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
output "role_arn" {
  description = "Execution role of the SageMaker training jobs."
  value       = aws_iam_role.training.arn
}

output "instance_type" {
  description = "Instance type of the SageMaker training jobs (from the plan)."
  value       = var.instance_type
}

output "repository_url" {
  description = "ECR repository of the training image."
  value       = aws_ecr_repository.training.repository_url
}
