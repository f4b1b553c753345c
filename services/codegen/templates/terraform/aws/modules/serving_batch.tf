data "aws_partition" "current" {}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "batch" {
  name               = "${var.name_prefix}-batch-score-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "batch" {
  role       = aws_iam_role.batch.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy" "batch" {
  name = "read-features-write-scores"
  role = aws_iam_role.batch.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([{
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
      Resource = ["arn:${data.aws_partition.current.partition}:s3:::${coalesce(var.data_bucket_name, "${var.name_prefix}-data")}", "arn:${data.aws_partition.current.partition}:s3:::${coalesce(var.data_bucket_name, "${var.name_prefix}-data")}/*"]
      }], var.kms_key_arn == null ? [] : [{
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = var.kms_key_arn
    }])
  })
}

# Serverless batch scoring: the scheduler invokes pipelines/batch_score.py in a container image.
resource "aws_lambda_function" "batch" {
  # checkov:skip=CKV_AWS_116:Started only by its schedule, which retries a failed run twice; no caller's event to dead-letter.
  # checkov:skip=CKV_AWS_272:Code is a container image from a scan-on-push, immutable-tag ECR repository.
  function_name                  = "${var.name_prefix}-batch-score"
  role                           = aws_iam_role.batch.arn
  package_type                   = "Image"
  image_uri                      = var.container_image
  timeout                        = 900
  memory_size                    = 2048
  reserved_concurrent_executions = 1
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags

  # The image is the service's; Lambda's runtime API is reached through awslambdaric in it.
  image_config {
    entry_point = ["python", "-m", "awslambdaric"]
    command     = ["pipelines.batch_score.handler"]
  }

  environment {
    variables = {
      MODEL_URI        = coalesce(var.model_uri, "s3://${coalesce(var.data_bucket_name, "${var.name_prefix}-data")}/models")
      BATCH_INPUT_URI  = "s3://${coalesce(var.data_bucket_name, "${var.name_prefix}-data")}/features/latest.csv"
      BATCH_OUTPUT_URI = "s3://${coalesce(var.data_bucket_name, "${var.name_prefix}-data")}/scores/latest.csv"
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

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name_prefix}-batch-sched-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "invoke-batch-score"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [aws_lambda_function.batch.arn]
    }]
  })
}

# At the plan's scoring cadence (04:00 UTC on its days, after the night's features have landed); a
# failed run is retried twice.
resource "aws_scheduler_schedule" "scheduled" {
  name                = "${var.name_prefix}-batch-score"
  schedule_expression = var.score_schedule
  kms_key_arn         = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.batch.arn
    role_arn = aws_iam_role.scheduler.arn

    retry_policy {
      maximum_retry_attempts = 2
    }
  }
}
moved {
  from = aws_scheduler_schedule.nightly
  to   = aws_scheduler_schedule.scheduled
}
# ---- outputs.tf ----
output "function_name" {
  description = "Lambda function that runs the batch scoring job."
  value       = aws_lambda_function.batch.function_name
}
