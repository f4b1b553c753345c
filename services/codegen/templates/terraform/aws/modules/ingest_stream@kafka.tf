resource "aws_cloudwatch_log_group" "broker" {
  name              = "/msk/${var.name_prefix}"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# Producers write to one topic, `events`, which the first write creates with the replication
# the cluster's zones allow (a stream consumer subscribes to it by name).
resource "aws_msk_configuration" "events" {
  name           = "${var.name_prefix}-events"
  kafka_versions = ["3.6.0"]

  server_properties = <<-PROPERTIES
    auto.create.topics.enable = true
    default.replication.factor = ${min(3, var.brokers)}
    min.insync.replicas = ${max(1, min(2, var.brokers - 1))}
    num.partitions = ${max(3, var.brokers)}
  PROPERTIES
}

resource "aws_msk_cluster" "events" {
  cluster_name           = "${var.name_prefix}-events"
  kafka_version          = "3.6.0"
  number_of_broker_nodes = var.brokers
  enhanced_monitoring    = "PER_TOPIC_PER_BROKER"
  tags                   = var.tags

  broker_node_group_info {
    instance_type   = "kafka.m5.large"
    client_subnets  = var.subnet_ids
    security_groups = var.security_group_ids

    storage_info {
      ebs_storage_info {
        volume_size = var.storage_gb
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.events.arn
    revision = aws_msk_configuration.events.latest_revision
  }

  client_authentication {
    sasl {
      iam = true
    }
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = var.kms_key_arn

    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.broker.name
      }
    }
  }
}
# ---- outputs.tf ----
output "stream_arn" {
  description = "ARN of the MSK cluster that carries the event topics."
  value       = aws_msk_cluster.events.arn
}

output "bootstrap_brokers" {
  description = "IAM-authenticated TLS bootstrap brokers."
  value       = aws_msk_cluster.events.bootstrap_brokers_sasl_iam
}

output "topic" {
  description = "Topic the events are written to and consumed from."
  value       = "events"
}
