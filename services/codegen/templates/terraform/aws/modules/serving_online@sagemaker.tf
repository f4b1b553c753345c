# The inference API as a SageMaker real-time endpoint: the serving image (its `serve` command and
# /ping, /invocations routes) on the planned instance type, autoscaled across zones on the
# per-instance request rate that keeps p95 within the latency target. Callers invoke it through
# the SageMaker runtime API with IAM (SigV4); the containers load the approved model at start.
data "aws_partition" "current" {}

locals {
  # s3://bucket/prefix of the model registry; serving reads <prefix>/approved.json and the version it names.
  model_uri    = coalesce(var.model_uri, "s3://${var.name_prefix}-data/models")
  model_path   = trimprefix(local.model_uri, "s3://")
  model_bucket = split("/", local.model_path)[0]
  model_prefix = trimprefix(local.model_path, "${local.model_bucket}/")
  endpoint     = "${var.name_prefix}-online"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "endpoint" {
  name               = "${var.name_prefix}-endpoint-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# What the containers may do: pull the image, write logs and metrics, read the approved model,
# and (inside the private network) manage their network interfaces. Nothing else.
resource "aws_iam_role_policy" "endpoint" {
  name = "serve-approved-model"
  role = aws_iam_role.endpoint.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid      = "PullImageWriteLogs"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "cloudwatch:PutMetricData"]
        Resource = "*"
      },
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
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = var.kms_key_arn
        }], length(var.subnet_ids) == 0 ? [] : [{
        Sid      = "PrivateNetworkInterfaces"
        Effect   = "Allow"
        Action   = ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]
        Resource = "*"
    }])
  })
}

# A new image is a new model and endpoint configuration; the endpoint moves to them blue/green.
resource "aws_sagemaker_model" "api" {
  # checkov:skip=CKV_AWS_370:Network isolation would cut the containers off the model registry they load the approved version from.
  # No name: Terraform generates one, so the replacement can exist beside the model it replaces.
  execution_role_arn = aws_iam_role.endpoint.arn
  tags               = var.tags

  primary_container {
    image = var.container_image
    environment = {
      MODEL_URI = local.model_uri
      # The monitoring module's alarms read the serving metrics under this namespace.
      METRICS_NAMESPACE = "${var.name_prefix}/model"
    }
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []

    content {
      subnets            = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint_configuration" "api" {
  name_prefix = "${substr(var.name_prefix, 0, 30)}-"
  kms_key_arn = var.kms_key_arn
  tags        = var.tags

  production_variants {
    variant_name           = "primary"
    model_name             = aws_sagemaker_model.api.name
    instance_type          = var.instance_type
    initial_instance_count = var.instances
  }

  lifecycle {
    create_before_destroy = true
  }
}

# promote.yml restarts the containers (they load approved.json at start) by moving the endpoint to
# a copy of this configuration; the next apply moves it back, to the same model.
resource "aws_sagemaker_endpoint" "api" {
  name                 = local.endpoint
  endpoint_config_name = aws_sagemaker_endpoint_configuration.api.name
  tags                 = var.tags
}

resource "aws_appautoscaling_target" "api" {
  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.api.name}/variant/primary"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.instances
  max_capacity       = var.max_instances
}

# Invocations per instance per minute: the rate one instance serves within the latency target (with headroom).
resource "aws_appautoscaling_policy" "invocations" {
  name               = "${var.name_prefix}-invocations-per-instance"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.per_instance_rps * 60
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}
# ---- outputs.tf ----
output "endpoint_name" {
  description = "SageMaker real-time endpoint serving predictions."
  value       = aws_sagemaker_endpoint.api.name
}

output "endpoint_url" {
  description = "Runtime URL of the endpoint (IAM-authenticated: SigV4 for service sagemaker); POST <url>/invocations."
  value       = "https://runtime.sagemaker.${var.region}.amazonaws.com/endpoints/${aws_sagemaker_endpoint.api.name}"
}
