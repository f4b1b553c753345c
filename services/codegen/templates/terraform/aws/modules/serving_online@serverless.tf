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
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
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
      MODEL_PATH = "/var/task/artifacts/model.json"
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
