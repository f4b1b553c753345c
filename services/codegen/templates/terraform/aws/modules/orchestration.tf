data "aws_partition" "current" {}

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

data "aws_caller_identity" "current" {}

locals {
  arn_scope = "${var.region}:${data.aws_caller_identity.current.account_id}"
}

resource "aws_iam_role_policy" "pipeline" {
  # checkov:skip=CKV_AWS_290:Only the log-delivery and X-Ray actions use "*": AWS offers no resource-level permissions for them.
  # checkov:skip=CKV_AWS_355:Only the log-delivery and X-Ray actions use "*": AWS offers no resource-level permissions for them.
  # checkov:skip=CKV_AWS_289:iam:PassRole is limited to this project's roles and to the SageMaker service.
  name = "run-training"
  role = aws_iam_role.pipeline.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "TrainingJobs"
        Effect   = "Allow"
        Action   = ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags"]
        Resource = "arn:${data.aws_partition.current.partition}:sagemaker:${local.arn_scope}:training-job/*"
      },
      {
        Sid      = "RegisterModel"
        Effect   = "Allow"
        Action   = ["sagemaker:CreateModelPackage"]
        Resource = ["arn:${data.aws_partition.current.partition}:sagemaker:${local.arn_scope}:model-package/*", "arn:${data.aws_partition.current.partition}:sagemaker:${local.arn_scope}:model-package-group/*"]
      },
      {
        Sid      = "StartPipeline"
        Effect   = "Allow"
        Action   = ["states:StartExecution"]
        Resource = "arn:${data.aws_partition.current.partition}:states:${local.arn_scope}:stateMachine:${var.name_prefix}-train"
      },
      {
        Sid      = "SyncTrainingJobEvents"
        Effect   = "Allow"
        Action   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
        Resource = "arn:${data.aws_partition.current.partition}:events:${local.arn_scope}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
      },
      {
        Sid      = "PassTrainingRole"
        Effect   = "Allow"
        Action   = ["iam:PassRole"]
        Resource = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/${var.name_prefix}-*"
        Condition = {
          StringEquals = { "iam:PassedToService" = "sagemaker.amazonaws.com" }
        }
      },
      {
        Sid      = "LogDeliveryAndTracing"
        Effect   = "Allow"
        Action   = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups", "xray:PutTraceSegments"]
        Resource = "*"
      },
    ]
  })
}

resource "aws_cloudwatch_log_group" "pipeline" {
  name              = "/states/${var.name_prefix}-train"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# The retraining run: one SageMaker training job running the service image's training entry point
# (python -m services.training.train) with DATA_URI, MODEL_URI and RUN_ID, then a model package
# registered for approval. The schedule below passes the data and registry locations as input.
locals {
  bucket    = coalesce(var.data_bucket_name, "${var.name_prefix}-data")
  data_uri  = "s3://${local.bucket}/raw"
  model_uri = coalesce(var.model_uri, "s3://${local.bucket}/models")
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
        Resource = "arn:${data.aws_partition.current.partition}:states:::sagemaker:createTrainingJob.sync"
        Parameters = {
          "TrainingJobName.$" = "$$.Execution.Name"
          AlgorithmSpecification = {
            TrainingImage       = var.container_image
            TrainingInputMode   = "File"
            ContainerEntrypoint = ["python", "-m", "services.training.train"]
          }
          RoleArn = var.training_role_arn
          Environment = {
            "DATA_URI.$"  = "$.data_uri"
            "MODEL_URI.$" = "$.model_uri"
            "RUN_ID.$"    = "$$.Execution.Name"
          }
          OutputDataConfig = { "S3OutputPath.$" = "States.Format('{}/runs', $.model_uri)", KmsKeyId = var.kms_key_arn }
          ResourceConfig = {
            InstanceType   = var.training_instance_type
            InstanceCount  = 1
            VolumeSizeInGB = 50
          }
          StoppingCondition = { MaxRuntimeInSeconds = 7200 }
        }
        ResultPath = "$.training"
        Next       = "Register"
      }
      Register = {
        Type     = "Task"
        Resource = "arn:${data.aws_partition.current.partition}:states:::aws-sdk:sagemaker:createModelPackage"
        Parameters = {
          ModelPackageGroupName = var.model_package_group
          ModelApprovalStatus   = "PendingManualApproval"
          InferenceSpecification = {
            Containers = [{
              Image            = var.container_image
              "ModelDataUrl.$" = "$.training.ModelArtifacts.S3ModelArtifacts"
            }]
            SupportedContentTypes      = ["application/json"]
            SupportedResponseMIMETypes = ["application/json"]
          }
        }
        End = true
      }
    }
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.pipeline.arn}:*"
    include_execution_data = true
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }
}

# Retraining starts on the plan's schedule, or, where the plan reuses the team's Airflow
# (retrain_trigger = "airflow"), from the DAG in dags/, as the role below.
resource "aws_scheduler_schedule" "retrain" {
  count = var.retrain_trigger == "schedule" ? 1 : 0

  name                = "${var.name_prefix}-retrain"
  schedule_expression = var.retrain_schedule
  kms_key_arn         = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.train.arn
    role_arn = aws_iam_role.pipeline.arn
    input    = jsonencode({ data_uri = local.data_uri, model_uri = local.model_uri })
  }
}
# The schedule was one resource before it became optional: state written then moves, not replaced.
moved {
  from = aws_scheduler_schedule.retrain
  to   = aws_scheduler_schedule.retrain[0]
}

# The team's Airflow assumes this role to start the workflow and follow its runs, nothing else.
# It trusts the account: the team allows its Airflow's own role to assume it.
data "aws_iam_policy_document" "airflow_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_iam_role" "airflow" {
  count = var.retrain_trigger == "airflow" ? 1 : 0

  name               = "${var.name_prefix}-airflow-trigger"
  assume_role_policy = data.aws_iam_policy_document.airflow_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "airflow" {
  count = var.retrain_trigger == "airflow" ? 1 : 0

  name = "start-training"
  role = aws_iam_role.airflow[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "StartTraining"
        Effect   = "Allow"
        Action   = ["states:StartExecution"]
        Resource = aws_sfn_state_machine.train.arn
      },
      {
        Sid      = "FollowRuns"
        Effect   = "Allow"
        Action   = ["states:DescribeExecution", "states:StopExecution"]
        Resource = "arn:${data.aws_partition.current.partition}:states:${local.arn_scope}:execution:${aws_sfn_state_machine.train.name}:*"
      },
    ]
  })
}
# ---- outputs.tf ----
output "data_uri" {
  description = "Prefix the training job reads its data from (DATA_URI)."
  value       = local.data_uri
}

output "model_uri" {
  description = "Prefix the training job writes model versions under (MODEL_URI)."
  value       = local.model_uri
}

output "state_machine_arn" {
  description = "Step Functions workflow that trains and registers the model."
  value       = aws_sfn_state_machine.train.arn
}

output "airflow_role_arn" {
  description = "Role the team's Airflow assumes to start retraining; null where a schedule starts it."
  value       = try(aws_iam_role.airflow[0].arn, null)
}
