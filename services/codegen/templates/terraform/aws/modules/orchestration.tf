locals {
  schedules = {
    hourly  = "rate(1 hour)"
    daily   = "cron(0 3 * * ? *)"
    weekly  = "cron(0 3 ? * MON *)"
    monthly = "cron(0 3 1 * ? *)"
  }
}

data "aws_iam_policy_document" "sfn_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com", "scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "pipeline" {
  name               = "${var.name_prefix}-pipeline"
  assume_role_policy = data.aws_iam_policy_document.sfn_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "pipeline" {
  name = "run-training"
  role = aws_iam_role.pipeline.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:CreateModelPackage", "states:StartExecution", "iam:PassRole", "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups", "xray:PutTraceSegments"]
      Resource = "*"
    }]
  })
}

resource "aws_cloudwatch_log_group" "pipeline" {
  name              = "/states/${var.name_prefix}-train"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sfn_state_machine" "train" {
  name     = "${var.name_prefix}-train"
  role_arn = aws_iam_role.pipeline.arn
  tags     = var.tags
  definition = jsonencode({
    Comment = "Train the model, then register it for approval."
    StartAt = "Train"
    States = {
      Train = {
        Type     = "Task"
        Resource = "arn:aws:states:::sagemaker:createTrainingJob.sync"
        Parameters = {
          "TrainingJobName.$"        = "$$.Execution.Name"
          "AlgorithmSpecification.$" = "$.algorithm"
          "RoleArn.$"                = "$.role_arn"
          "InputDataConfig.$"        = "$.inputs"
          "OutputDataConfig.$"       = "$.output"
          "ResourceConfig.$"         = "$.resources"
          StoppingCondition          = { MaxRuntimeInSeconds = 7200 }
        }
        Next = "Register"
      }
      Register = {
        Type     = "Task"
        Resource = "arn:aws:states:::aws-sdk:sagemaker:createModelPackage"
        Parameters = {
          "ModelPackageGroupName.$" = "$.model_package_group"
          ModelApprovalStatus       = "PendingManualApproval"
        }
        End = true
      }
    }
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.pipeline.arn}:*"
    include_execution_data = false
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }
}

resource "aws_scheduler_schedule" "retrain" {
  name                = "${var.name_prefix}-retrain"
  schedule_expression = local.schedules[lookup(var.settings, "cadence", "daily")]

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.train.arn
    role_arn = aws_iam_role.pipeline.arn
  }
}
# ---- outputs.tf ----
output "state_machine_arn" {
  description = "Step Functions workflow that trains and registers the model."
  value       = aws_sfn_state_machine.train.arn
}
