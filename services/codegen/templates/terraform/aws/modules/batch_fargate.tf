# Containerised batch jobs on AWS Batch with Fargate capacity, submitted by EventBridge Scheduler:
# ingestion nightly at 02:00 UTC, scoring at the plan's scoring cadence once the night's data has
# landed. Each job gets the vCPU and memory the plan sized; the image is the service image.
data "aws_partition" "current" {}

locals {
  bucket     = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
  job_prefix = "${var.name_prefix}-${replace(basename(path.module), "_", "-")}"
  model_uri  = coalesce(var.model_uri, "s3://${local.bucket}/models")
  # What each capability's job runs from the service image (its default command is the API).
  job_command = {
    ingest_batch  = ["python", "-m", "pipelines.ingest"]
    serving_batch = ["python", "-m", "pipelines.batch_score"]
  }
  schedule = basename(path.module) == "serving_batch" ? var.score_schedule : "cron(0 2 * * ? *)"
  # IAM role names hold 64 characters: the prefix gives way to the longest suffix and the region
  role_prefix = substr(local.job_prefix, 0, 64 - length("-schedule-${var.region}"))
}

data "aws_iam_policy_document" "ecs_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
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

resource "aws_iam_role" "execution" {
  name               = "${local.role_prefix}-exec-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# The job reads and writes the data lake, nothing else.
resource "aws_iam_role" "job" {
  name               = "${local.role_prefix}-job-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.ecs_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "job" {
  name = "data-lake"
  role = aws_iam_role.job.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([{
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
      Resource = ["arn:${data.aws_partition.current.partition}:s3:::${local.bucket}", "arn:${data.aws_partition.current.partition}:s3:::${local.bucket}/*"]
      }], var.kms_key_arn == null ? [] : [{
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = var.kms_key_arn
    }])
  })
}

resource "aws_security_group" "jobs" {
  name        = "${local.job_prefix}-jobs"
  description = "Batch jobs: outbound HTTPS only, no inbound"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "jobs_https" {
  security_group_id = aws_security_group.jobs.id
  description       = "HTTPS to the VPC endpoints (ECR, logs, S3 gateway)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_batch_compute_environment" "fargate" {
  compute_environment_name = local.job_prefix
  type                     = "MANAGED"
  tags                     = var.tags

  compute_resources {
    type               = "FARGATE"
    max_vcpus          = var.vcpu * 4
    subnets            = var.subnet_ids
    security_group_ids = [aws_security_group.jobs.id]
  }
}

resource "aws_batch_job_queue" "jobs" {
  name     = local.job_prefix
  state    = "ENABLED"
  priority = 1
  tags     = var.tags

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.fargate.arn
  }
}

resource "aws_cloudwatch_log_group" "jobs" {
  name              = "/batch/${local.job_prefix}"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_batch_job_definition" "job" {
  name                  = local.job_prefix
  type                  = "container"
  platform_capabilities = ["FARGATE"]
  tags                  = var.tags

  container_properties = jsonencode({
    image            = var.container_image
    executionRoleArn = aws_iam_role.execution.arn
    jobRoleArn       = aws_iam_role.job.arn
    resourceRequirements = [
      { type = "VCPU", value = tostring(var.vcpu) },
      { type = "MEMORY", value = tostring(var.mem_gb * 1024) },
    ]
    command = lookup(local.job_command, basename(path.module), null)
    environment = [
      { name = "DATA_URI", value = "s3://${local.bucket}" },
      { name = "MODEL_URI", value = local.model_uri },
      { name = "BATCH_INPUT_URI", value = "s3://${local.bucket}/features/latest.csv" },
      { name = "BATCH_OUTPUT_URI", value = "s3://${local.bucket}/scores/latest.csv" },
      { name = "INGEST_SOURCE_URI", value = "s3://${local.bucket}/landing" },
      { name = "INGEST_TARGET_URI", value = "s3://${local.bucket}/raw" },
    ]
    fargatePlatformConfiguration = { platformVersion = "LATEST" }
    networkConfiguration         = { assignPublicIp = "DISABLED" }
    readonlyRootFilesystem       = true
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.jobs.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "job"
      }
    }
  })

  retry_strategy {
    attempts = 2
  }

  timeout {
    attempt_duration_seconds = 6 * 3600
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.role_prefix}-schedule-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "submit-job"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["batch:SubmitJob"]
      Resource = [aws_batch_job_queue.jobs.arn, "${replace(aws_batch_job_definition.job.arn, "/:[0-9]+$/", "")}:*"]
    }]
  })
}

resource "aws_scheduler_schedule" "scheduled" {
  name                = local.job_prefix
  schedule_expression = local.schedule
  kms_key_arn         = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = "arn:${data.aws_partition.current.partition}:scheduler:::aws-sdk:batch:submitJob"
    role_arn = aws_iam_role.scheduler.arn
    input = jsonencode({
      JobName       = local.job_prefix
      JobQueue      = aws_batch_job_queue.jobs.arn
      JobDefinition = aws_batch_job_definition.job.arn
    })
  }
}
moved {
  from = aws_scheduler_schedule.nightly
  to   = aws_scheduler_schedule.scheduled
}
# ---- outputs.tf ----
output "job_queue_arn" {
  description = "AWS Batch job queue of the jobs."
  value       = aws_batch_job_queue.jobs.arn
}

output "job_definition_arn" {
  description = "AWS Batch job definition (vCPU and memory from the plan)."
  value       = aws_batch_job_definition.job.arn
}
