# The gateway and one App Runner service per agent, all from the same image: the start command
# chooses the service (seed Option B: "api" and "worker" services). Every service leaves through
# the VPC connector (RDS Proxy, NATS, the S3 endpoint); only the gateway takes public traffic.
#
# Two App Runner facts shape this:
# - A request ends after 120 s: the gateway ends each SSE response after sse_max_duration_s with
#   a `retry:` hint, and clients resume with Last-Event-ID (no gap, no duplicate).
# - App Runner scales on concurrent HTTP requests and gives CPU only to instances it counts as
#   active; a worker pulls its messages from NATS instead of serving requests. Workers therefore
#   run a fixed fleet (min_size instances; max_size bounds deployments), health-checked on
#   /healthz. See deploy/README.md ("App Runner") for what that means for throughput.

locals {
  commands = {
    for svc in keys(var.services) : svc => (
      svc == "gateway"
      ? "amp serve gateway --host 0.0.0.0 --port 8080"
      : "amp serve ${svc} --host 0.0.0.0 --health-port 8080"
    )
  }

  common_env = {
    NATS_URL               = local.nats_url
    AMP_STREAM_REPLICAS    = tostring(local.nats_count)
    AMP_S3_BUCKET          = aws_s3_bucket.artifacts.bucket
    AWS_DEFAULT_REGION     = var.region
    AMP_ARTIFACT_URL_TTL_S = tostring(var.artifact_url_ttl_s)
    AMP_LOG_LEVEL          = "INFO"
  }

  service_env = {
    for svc, cfg in var.services : svc => merge(
      local.common_env,
      svc == "gateway"
      ? { AMP_SSE_MAX_DURATION_S = tostring(var.sse_max_duration_s), AMP_ALLOWED_HOSTS = ".awsapprunner.com" }
      : { AMP_MAX_WORKERS = tostring(cfg.max_workers) },
    )
  }

  secrets = merge(
    { DATABASE_URL = aws_secretsmanager_secret.database_url.arn },
    var.anthropic_api_key_secret_arn == "" ? {} : { ANTHROPIC_API_KEY = var.anthropic_api_key_secret_arn },
  )
}

resource "aws_security_group" "services" {
  name        = "${var.name}-services"
  description = "App Runner services (VPC connector): outbound only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_egress_rule" "services_all" {
  security_group_id = aws_security_group.services.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  description       = "RDS Proxy, NATS, S3 and the model API"
}

resource "aws_apprunner_vpc_connector" "this" {
  vpc_connector_name = "${var.name}-vpc"
  subnets            = var.private_subnet_ids
  security_groups    = [aws_security_group.services.id]
}

resource "aws_apprunner_auto_scaling_configuration_version" "svc" {
  for_each                        = var.services
  auto_scaling_configuration_name = substr("${var.name}-${each.key}", 0, 32)
  max_concurrency                 = each.key == "gateway" ? 80 : 100
  min_size                        = each.value.min_size
  max_size                        = each.value.max_size
}

resource "aws_apprunner_service" "svc" {
  for_each     = var.services
  service_name = "${var.name}-${each.key}"

  source_configuration {
    auto_deployments_enabled = false
    authentication_configuration {
      access_role_arn = aws_iam_role.ecr_access.arn
    }
    image_repository {
      image_identifier      = "${var.image_repository_url}:${var.image_tag}"
      image_repository_type = "ECR"
      image_configuration {
        port                          = "8080"
        start_command                 = local.commands[each.key]
        runtime_environment_variables = local.service_env[each.key]
        runtime_environment_secrets   = local.secrets
      }
    }
  }

  instance_configuration {
    cpu               = each.value.cpu
    memory            = each.value.memory
    instance_role_arn = aws_iam_role.instance.arn
  }

  health_check_configuration {
    protocol            = "HTTP"
    path                = "/healthz"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 1
    unhealthy_threshold = 5
  }

  network_configuration {
    egress_configuration {
      egress_type       = "VPC"
      vpc_connector_arn = aws_apprunner_vpc_connector.this.arn
    }
    ingress_configuration {
      is_publicly_accessible = each.key == "gateway"
    }
  }

  auto_scaling_configuration_arn = aws_apprunner_auto_scaling_configuration_version.svc[each.key].arn

  depends_on = [
    aws_db_proxy_target.this,
    aws_instance.nats,
    aws_iam_role_policy.instance,
  ]
}
