# Alarms of the model's metrics. The metrics, their emitters and the alarm thresholds come from
# one table (docs/runbook.md lists them); the serving code emits them in CloudWatch embedded
# metric format under the namespace <name_prefix>/model, the drift workflow publishes the drift.
data "aws_partition" "current" {}

locals {
  environment = regex("-([a-z]+)$", var.name_prefix)[0]
  namespace   = "${var.name_prefix}/model"
}

data "aws_caller_identity" "current" {}

# Alarms publish to an encrypted topic only if CloudWatch may use the key, which a shared or an
# AWS-managed key does not allow: the topic has its own.
data "aws_iam_policy_document" "alerts_key" {
  # checkov:skip=CKV_AWS_111:In a key policy the resource "*" is this key alone; the account statement delegates to IAM as the default key policy does.
  # checkov:skip=CKV_AWS_356:Same reason: a key policy's "*" cannot reach any other resource.
  # checkov:skip=CKV_AWS_109:Same reason: key administration stays with the account's IAM policies.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "AlarmsAndEventsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "alerts" {
  description             = "${var.name_prefix}: alarm notifications"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.alerts_key.json
  tags                    = var.tags
}

resource "aws_sns_topic" "alerts" {
  name              = "${var.name_prefix}-alerts"
  kms_master_key_id = aws_kms_key.alerts.arn
  tags              = var.tags
}

# CloudWatch alarms (of this account) and the EventBridge rules of failed job runs publish here.
data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "AccountManages"
    actions   = ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "AlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  # EventBridge delivers to a topic's policy as its documentation shows it, without conditions.
  statement {
    sid       = "EventsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}

# The on-call address confirms the subscription once (AWS sends the link); until then no alarm
# reaches anyone, which `terraform output` and the runbook point out.
resource "aws_sns_topic_subscription" "oncall" {
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}
# ---- outputs.tf ----
output "alerts_topic_arn" {
  description = "SNS topic that receives the alarms (subscribe further endpoints to it)."
  value       = aws_sns_topic.alerts.arn
}
