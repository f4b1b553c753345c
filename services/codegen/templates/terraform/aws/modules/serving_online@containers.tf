# The inference API: ECS service on Fargate behind an internal Application Load Balancer.
# Sizing comes from the plan (typed variables): tasks at all times, autoscaling up to max_tasks on
# the per-task request rate that keeps p95 within the latency target, across every private subnet's zone.
data "aws_partition" "current" {}

locals {
  short_name = trimsuffix(substr("${var.name_prefix}-api", 0, 32), "-")
  # s3://bucket/prefix of the model registry; serving reads <prefix>/approved.json and the version it names.
  model_uri    = coalesce(var.model_uri, "s3://${var.name_prefix}-data/models")
  model_path   = trimprefix(local.model_uri, "s3://")
  model_bucket = split("/", local.model_path)[0]
  model_prefix = trimprefix(local.model_path, "${local.model_bucket}/")
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Pulls the image and writes logs; nothing else.
resource "aws_iam_role" "execution" {
  name               = "${var.name_prefix}-inference-exec-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# What the running API may do: read the approved model from the registry prefix, and no more.
resource "aws_iam_role" "task" {
  name               = "${var.name_prefix}-inference-task-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "task" {
  name = "read-approved-model"
  role = aws_iam_role.task.id
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
      ], var.kms_key_arn == null ? [] : [{
        Sid      = "DecryptModels"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = var.kms_key_arn
    }])
  })
}

resource "aws_cloudwatch_log_group" "api" {
  name              = "/ecs/${var.name_prefix}-inference"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_ecs_cluster" "this" {
  name = "${var.name_prefix}-serving"
  tags = var.tags

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

# The load balancer accepts HTTP from inside the VPC only; the tasks accept the container port
# from the load balancer only.
resource "aws_security_group" "lb" {
  name        = "${var.name_prefix}-api-lb"
  description = "Internal load balancer of the inference API"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "lb_http" {
  security_group_id = aws_security_group.lb.id
  description       = "HTTP from inside the VPC"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = data.aws_vpc.this.cidr_block
}

resource "aws_vpc_security_group_egress_rule" "lb_to_tasks" {
  security_group_id            = aws_security_group.lb.id
  description                  = "To the API tasks on the container port"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.tasks.id
}

resource "aws_security_group" "tasks" {
  name        = "${var.name_prefix}-api-tasks"
  description = "Inference API tasks"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_lb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Container port from the load balancer only"
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
  referenced_security_group_id = aws_security_group.lb.id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to the VPC endpoints (ECR, logs, KMS, S3 gateway)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_lb" "api" {
  # checkov:skip=CKV_AWS_91:Access logs need a log bucket policy per region; the ALB metrics and the task logs cover operations.
  # checkov:skip=CKV2_AWS_20:Internal load balancer without a domain; add an ACM certificate and redirect to HTTPS when one is assigned.
  # checkov:skip=CKV2_AWS_28:Internal load balancer reachable only from inside the VPC; no internet-facing WAF needed.
  name                       = local.short_name
  internal                   = true
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.lb.id]
  subnets                    = var.subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = true
  tags                       = var.tags
}

resource "aws_lb_target_group" "api" {
  # checkov:skip=CKV_AWS_378:Load balancer to task traffic stays inside the private subnets; TLS ends at the internal load balancer once a certificate exists.
  name                 = local.short_name
  port                 = 8080
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30
  tags                 = var.tags

  # A task is healthy once its process answers, model or not: before the first promotion none can
  # be ready, and an unhealthy target is replaced, so waiting for /readyz would churn tasks and fail
  # the first deploy. A task without a model answers 503 and loads one within MODEL_RELOAD_SECONDS.
  health_check {
    path                = "/healthz"
    port                = "traffic-port"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  # checkov:skip=CKV_AWS_2:Internal load balancer without a domain; add an ACM certificate and an HTTPS listener when one is assigned.
  # checkov:skip=CKV_AWS_103:Internal load balancer without a domain; TLS policy applies once an HTTPS listener exists.
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"
  tags              = var.tags

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

resource "aws_ecs_task_definition" "api" {
  family                   = "${var.name_prefix}-inference"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.vcpu * 1024)
  memory                   = tostring(var.mem_gb * 1024)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  tags                     = var.tags

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([{
    name                   = "inference"
    image                  = var.container_image
    essential              = true
    readonlyRootFilesystem = true
    portMappings           = [{ containerPort = 8080, protocol = "tcp" }]
    mountPoints            = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
    environment = [
      { name = "MODEL_URI", value = local.model_uri },
      { name = "PORT", value = "8080" },
      # The monitoring module's alarms read the serving metrics under this namespace.
      { name = "METRICS_NAMESPACE", value = "${var.name_prefix}/model" },
    ]
    # Liveness: the process answers (the load balancer asks the same; /readyz is the smoke test's).
    healthCheck = {
      command     = ["CMD-SHELL", "python -c \"import urllib.request; urllib.request.urlopen('http://localhost:8080/healthz')\""]
      interval    = 15
      retries     = 3
      startPeriod = 60
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.api.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "inference"
      }
    }
  }])
}

resource "aws_ecs_service" "api" {
  name                              = "${var.name_prefix}-inference"
  cluster                           = aws_ecs_cluster.this.id
  task_definition                   = aws_ecs_task_definition.api.arn
  desired_count                     = var.tasks
  launch_type                       = "FARGATE"
  health_check_grace_period_seconds = 60
  tags                              = var.tags

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.api.arn
    container_name   = "inference"
    container_port   = 8080
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # Autoscaling owns the running count after the first apply.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.http]
}

resource "aws_appautoscaling_target" "api" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.api.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.tasks
  max_capacity       = var.max_tasks
}

# Requests per task per minute: the rate one task serves within the latency target (with headroom).
resource "aws_appautoscaling_policy" "requests" {
  name               = "${var.name_prefix}-requests-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.per_task_rps * 60
    scale_in_cooldown  = 120
    scale_out_cooldown = 30

    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = "${aws_lb.api.arn_suffix}/${aws_lb_target_group.api.arn_suffix}"
    }
  }
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name_prefix}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.api.service_namespace
  resource_id        = aws_appautoscaling_target.api.resource_id
  scalable_dimension = aws_appautoscaling_target.api.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = 60
    scale_in_cooldown  = 120
    scale_out_cooldown = 30

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
# ---- outputs.tf ----
output "cluster_name" {
  description = "ECS cluster running the inference service."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "ECS service of the inference API."
  value       = aws_ecs_service.api.name
}

output "endpoint" {
  description = "Internal URL of the inference API (load balancer)."
  value       = "http://${aws_lb.api.dns_name}"
}

output "load_balancer_arn_suffix" {
  description = "ARN suffix of the load balancer, for CloudWatch metrics and alarms."
  value       = aws_lb.api.arn_suffix
}
