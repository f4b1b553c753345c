# Stream processing on Amazon Managed Service for Apache Flink: one application whose parallelism
# (KPUs) is the plan's, autoscaling above it. CI uploads the job (code/stream-processor.zip) to the
# data bucket; the application reads the stream and writes features and scores to the lake.
locals {
  bucket = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["kinesisanalytics.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "flink" {
  name               = "${var.name_prefix}-stream-flink"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# Read the job code, write to the lake, read the stream; nothing else.
resource "aws_iam_role_policy" "flink" {
  name = "stream-processing"
  role = aws_iam_role.flink.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
        Resource = ["arn:aws:s3:::${local.bucket}", "arn:aws:s3:::${local.bucket}/*"]
      },
      ], var.stream_arn == null ? [] : [{
        Effect   = "Allow"
        Action   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:SubscribeToShard"]
        Resource = var.stream_arn
    }])
  })
}

resource "aws_cloudwatch_log_group" "flink" {
  name              = "/flink/${var.name_prefix}-stream"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_stream" "flink" {
  name           = "application"
  log_group_name = aws_cloudwatch_log_group.flink.name
}

resource "aws_kinesisanalyticsv2_application" "stream" {
  name                   = "${var.name_prefix}-stream"
  runtime_environment    = "FLINK-1_18"
  service_execution_role = aws_iam_role.flink.arn
  tags                   = var.tags

  application_configuration {
    application_code_configuration {
      code_content_type = "ZIPFILE"

      code_content {
        s3_content_location {
          bucket_arn = "arn:aws:s3:::${local.bucket}"
          file_key   = "code/stream-processor.zip"
        }
      }
    }

    flink_application_configuration {
      checkpoint_configuration {
        configuration_type = "DEFAULT"
      }

      monitoring_configuration {
        configuration_type = "CUSTOM"
        log_level          = "INFO"
        metrics_level      = "APPLICATION"
      }

      parallelism_configuration {
        configuration_type   = "CUSTOM"
        auto_scaling_enabled = true
        parallelism          = var.kpu
        parallelism_per_kpu  = 1
      }
    }
  }

  cloudwatch_logging_options {
    log_stream_arn = aws_cloudwatch_log_stream.flink.arn
  }
}
# ---- outputs.tf ----
output "application_name" {
  description = "Managed Flink application processing the stream."
  value       = aws_kinesisanalyticsv2_application.stream.name
}
