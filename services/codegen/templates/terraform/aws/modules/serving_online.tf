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

resource "aws_iam_role_policy" "endpoint" {
  name = "pull-image-write-logs"
  role = aws_iam_role.endpoint.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "cloudwatch:PutMetricData"]
      Resource = "*"
    }]
  })
}

resource "aws_sagemaker_model" "this" {
  name                     = "${var.name_prefix}-model"
  execution_role_arn       = aws_iam_role.endpoint.arn
  enable_network_isolation = false
  tags                     = var.tags

  primary_container {
    image = var.container_image
    environment = {
      MODEL_PATH = "/opt/ml/model/model.json"
    }
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []

    content {
      subnets            = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  name_prefix = "${var.name_prefix}-"
  kms_key_arn = var.kms_key_arn
  tags        = var.tags

  production_variants {
    variant_name           = "primary"
    model_name             = aws_sagemaker_model.this.name
    instance_type          = "ml.m5.large"
    initial_instance_count = 2
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "this" {
  name                 = "${var.name_prefix}-online"
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name
  tags                 = var.tags
}

resource "aws_appautoscaling_target" "endpoint" {
  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.this.name}/variant/primary"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = 2
  max_capacity       = 6
}

resource "aws_appautoscaling_policy" "endpoint" {
  name               = "${var.name_prefix}-invocations"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.endpoint.service_namespace
  resource_id        = aws_appautoscaling_target.endpoint.resource_id
  scalable_dimension = aws_appautoscaling_target.endpoint.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = 200

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}
# ---- outputs.tf ----
output "endpoint_name" {
  description = "SageMaker real-time inference endpoint."
  value       = aws_sagemaker_endpoint.this.name
}
