# Stream processing on Amazon Managed Service for Apache Flink: one application whose parallelism
# (KPUs) is the plan's, autoscaling above it. The team writes the job (the repository generates
# none) and uploads it as code/stream-processor.zip to the data bucket; the application gives it
# the stream, the registry and the lake's scores prefix as the ScoringJob property group, with the
# network and permissions to read a Kinesis stream or an MSK topic and to write the lake.
data "aws_partition" "current" {}

locals {
  bucket    = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
  model_uri = coalesce(var.model_uri, "s3://${local.bucket}/models")
  # The application joins the private subnets only to reach MSK brokers, which answer nowhere else.
  # Reading Kinesis it stays outside: the private network has no route to Kinesis (no interface
  # endpoint, no NAT), and the service's own network reaches it over TLS with the role's credentials.
  in_vpc = var.wired_subnet_ids && var.wired_stream_topic
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

# Read the job code, write to the lake, read the stream, use the project key and, inside the VPC,
# the network interfaces of the application; nothing else.
resource "aws_iam_role_policy" "flink" {
  name = "stream-processing"
  role = aws_iam_role.flink.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
        Resource = ["arn:${data.aws_partition.current.partition}:s3:::${local.bucket}", "arn:${data.aws_partition.current.partition}:s3:::${local.bucket}/*"]
      },
      ], var.wired_stream_arn && !var.wired_stream_topic ? [{
        Effect   = "Allow"
        Action   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:SubscribeToShard"]
        Resource = var.stream_arn
      }] : [],
      var.wired_stream_topic ? [{
        Effect = "Allow"
        Action = ["kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration", "kafka-cluster:DescribeTopic", "kafka-cluster:ReadData", "kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
        Resource = [
          var.stream_arn,
          "${replace(var.stream_arn, ":cluster/", ":topic/")}/${var.stream_topic}",
          "${replace(var.stream_arn, ":cluster/", ":group/")}/*",
        ]
      }] : [],
      var.kms_key_arn == null ? [] : [{
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = var.kms_key_arn
      }],
      local.in_vpc ? [{
        # An application inside the VPC (to reach MSK brokers) manages its own network interfaces.
        Effect   = "Allow"
        Action   = ["ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeDhcpOptions", "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface"]
        Resource = "*"
    }] : [])
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
          bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${local.bucket}"
          file_key   = "code/stream-processor.zip"
        }
      }
    }

    # What the team's job reads and writes; in the job, from application_properties.json.
    environment_properties {
      property_group {
        property_group_id = "ScoringJob"
        property_map = {
          "stream.arn"        = coalesce(var.stream_arn, "none")
          "stream.topic"      = coalesce(var.stream_topic, "none")
          "bootstrap.brokers" = coalesce(var.stream_bootstrap_brokers, "none")
          "model.uri"         = local.model_uri
          "scores.uri"        = "s3://${local.bucket}/scores/stream"
          "aws.region"        = var.region
        }
      }
    }

    dynamic "vpc_configuration" {
      for_each = local.in_vpc ? [var.subnet_ids] : []

      content {
        subnet_ids         = vpc_configuration.value
        security_group_ids = var.security_group_ids
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
