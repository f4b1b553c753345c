# The inference API as a Lambda function running the serving image (through the Lambda Web
# Adapter in the image), behind an IAM-authenticated function URL.
data "aws_partition" "current" {}

locals {
  # s3://bucket/prefix of the model registry; serving reads <prefix>/approved.json and the version it names.
  model_uri    = coalesce(var.model_uri, "s3://${var.name_prefix}-data/models")
  model_path   = trimprefix(local.model_uri, "s3://")
  model_bucket = split("/", local.model_path)[0]
  model_prefix = trimprefix(local.model_path, "${local.model_bucket}/")
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "api" {
  name               = "${var.name_prefix}-inference-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "api" {
  role       = aws_iam_role.api.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

# What the running API may do beyond logging: read the approved model from the registry prefix.
resource "aws_iam_role_policy" "models" {
  name = "read-approved-model"
  role = aws_iam_role.api.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid      = "ReadModels"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = "arn:${data.aws_partition.current.partition}:s3:::${local.model_bucket}/${local.model_prefix}/*"
      },
      {
        Sid       = "ListModels"
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = "arn:${data.aws_partition.current.partition}:s3:::${local.model_bucket}"
        Condition = { StringLike = { "s3:prefix" = ["${local.model_prefix}/*"] } }
      },
      ], var.kms_key_arn == null ? [] : [{
        Sid      = "DecryptModels"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = var.kms_key_arn
    }])
  })
}

resource "aws_lambda_function" "api" {
  # checkov:skip=CKV_AWS_116:Synchronous HTTP invocations return errors to the caller; a DLQ only applies to async events.
  # checkov:skip=CKV_AWS_272:Code is a container image from a scan-on-push, immutable-tag ECR repository.
  function_name                  = "${var.name_prefix}-inference"
  role                           = aws_iam_role.api.arn
  package_type                   = "Image"
  image_uri                      = var.container_image
  timeout                        = 15
  memory_size                    = var.memory_gb * 1024
  reserved_concurrent_executions = 100
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags

  environment {
    variables = {
      MODEL_URI = local.model_uri
      # The monitoring module's alarms read the serving metrics under this namespace.
      METRICS_NAMESPACE = "${var.name_prefix}/model"
    }
  }

  tracing_config {
    mode = "Active"
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }
}

# IAM-authenticated HTTPS endpoint; callers sign requests with SigV4.
resource "aws_lambda_function_url" "api" {
  function_name      = aws_lambda_function.api.function_name
  authorization_type = "AWS_IAM"
}
# ---- outputs.tf ----
output "endpoint_url" {
  description = "IAM-authenticated HTTPS URL of the inference function."
  value       = aws_lambda_function_url.api.function_url
}

output "function_name" {
  description = "Lambda function serving predictions."
  value       = aws_lambda_function.api.function_name
}
