resource "aws_sns_topic" "alerts" {
  name              = "${var.name_prefix}-alerts"
  kms_master_key_id = coalesce(var.kms_key_arn, "alias/aws/sns")
  tags              = var.tags
}

# The serving and pipeline code publish these metrics (namespace <name_prefix>/model).
resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name_prefix}-prediction-errors"
  alarm_description   = "Prediction errors above the tolerated rate."
  namespace           = "${var.name_prefix}/model"
  metric_name         = "PredictionErrors"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  threshold           = tonumber(lookup(var.settings, "error_threshold", "5"))
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "latency" {
  alarm_name          = "${var.name_prefix}-latency-p95"
  alarm_description   = "p95 prediction latency above the SLO."
  namespace           = "${var.name_prefix}/model"
  metric_name         = "PredictionLatencyMs"
  extended_statistic  = "p95"
  period              = 300
  evaluation_periods  = 3
  threshold           = tonumber(lookup(var.settings, "latency_slo_ms", "200"))
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "drift" {
  alarm_name          = "${var.name_prefix}-feature-drift"
  alarm_description   = "Population stability index of the inputs drifted from training."
  namespace           = "${var.name_prefix}/model"
  metric_name         = "FeatureDriftPSI"
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 0.2
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}
# ---- outputs.tf ----
output "alerts_topic_arn" {
  description = "SNS topic that receives model alarms."
  value       = aws_sns_topic.alerts.arn
}
