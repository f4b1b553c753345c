data "aws_partition" "current" {}

locals {
  # s3://bucket/prefix of the model registry; the consumer scores with the approved version.
  model_uri    = coalesce(var.model_uri, "s3://${var.name_prefix}-data/models")
  model_path   = trimprefix(local.model_uri, "s3://")
  model_bucket = split("/", local.model_path)[0]
  model_prefix = trimprefix(local.model_path, "${local.model_bucket}/")
  # The lake prefix the consumer writes each batch's scores under (pipelines/stream_consumer.py).
  scores_bucket = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
  scores_uri    = "s3://${local.scores_bucket}/scores/stream"
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

resource "aws_iam_role" "consumer" {
  name               = "${var.name_prefix}-stream-consumer"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# The event source is a Kinesis stream or an MSK cluster's topic (wired_stream_topic).
resource "aws_iam_role_policy_attachment" "consumer" {
  for_each = toset([
    var.wired_stream_topic ? "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole" : "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
    "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
  ])

  role       = aws_iam_role.consumer.name
  policy_arn = each.value
}

# Beyond reading the stream and logging: read the approved model from the registry prefix,
# write the scores under the lake's scores/stream/ prefix and record the batches that failed.
resource "aws_iam_role_policy" "models" {
  name = "read-approved-model-write-scores"
  role = aws_iam_role.consumer.id
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
      {
        Sid      = "WriteScores"
        Effect   = "Allow"
        Action   = ["s3:PutObject"]
        Resource = "arn:${data.aws_partition.current.partition}:s3:::${local.scores_bucket}/scores/stream/*"
      },
      ], var.wired_stream_topic ? [{
        # The cluster authenticates clients with IAM: read the topic as a member of the consumer's group.
        Sid    = "ReadTopic"
        Effect = "Allow"
        Action = ["kafka-cluster:Connect", "kafka-cluster:DescribeClusterDynamicConfiguration", "kafka-cluster:DescribeTopic", "kafka-cluster:ReadData", "kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
        Resource = [
          var.stream_arn,
          "${replace(var.stream_arn, ":cluster/", ":topic/")}/${var.stream_topic}",
          "${replace(var.stream_arn, ":cluster/", ":group/")}/*",
        ]
      }] : [],
      [{
        Sid      = "RecordFailedBatches"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = aws_sqs_queue.failed.arn
      }],
      var.kms_key_arn == null ? [] : [{
        Sid      = "UseLakeKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = var.kms_key_arn
    }])
  })
}

# Batches that still fail after their retries (the registry unreachable, no approved model yet):
# where they went is kept here (stream, shard or partition, first and last position), so they can
# be replayed from the stream instead of being lost without a trace.
resource "aws_sqs_queue" "failed" {
  name                              = "${var.name_prefix}-stream-failed"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  tags                              = var.tags
}

resource "aws_lambda_function" "consumer" {
  # checkov:skip=CKV_AWS_116:Failed batches go to the event source mapping's on-failure destination (aws_sqs_queue.failed), not an async DLQ.
  # checkov:skip=CKV_AWS_272:Code is a container image from a scan-on-push, immutable-tag ECR repository.
  function_name                  = "${var.name_prefix}-stream-consumer"
  role                           = aws_iam_role.consumer.arn
  package_type                   = "Image"
  image_uri                      = var.container_image
  timeout                        = 60
  memory_size                    = var.memory_gb * 1024
  reserved_concurrent_executions = 50
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags

  environment {
    variables = {
      MODEL_URI  = local.model_uri
      SCORES_URI = local.scores_uri
    }
  }

  # The image is the service's; Lambda's runtime API is reached through awslambdaric in it.
  image_config {
    entry_point = ["python", "-m", "awslambdaric"]
    command     = ["pipelines.stream_consumer.handler"]
  }

  tracing_config {
    mode = "Active"
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }
}

# Kinesis retries a failed batch by halves; an MSK topic (which takes neither setting) retries
# it whole, from the committed offset of the consumer's group.
resource "aws_lambda_event_source_mapping" "stream" {
  count = var.wired_stream_arn ? 1 : 0

  event_source_arn                   = var.stream_arn
  function_name                      = aws_lambda_function.consumer.arn
  topics                             = var.wired_stream_topic ? [var.stream_topic] : null
  starting_position                  = "LATEST"
  batch_size                         = 100
  maximum_batching_window_in_seconds = 1
  bisect_batch_on_function_error     = var.wired_stream_topic ? null : true
  maximum_retry_attempts             = var.wired_stream_topic ? null : 3

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failed.arn
    }
  }
}
# ---- outputs.tf ----
output "function_name" {
  description = "Lambda function that scores stream records."
  value       = aws_lambda_function.consumer.function_name
}

output "failed_batches_queue_url" {
  description = "Queue recording the stream batches the consumer could not score (to replay them)."
  value       = aws_sqs_queue.failed.url
}

output "failed_batches_queue_name" {
  description = "Name of that queue (the monitoring module's alarm watches its depth)."
  value       = aws_sqs_queue.failed.name
}
