"""The metric table: alarms derived from the stated targets, each with its missing-data reason."""

from __future__ import annotations

import pytest
from amp_contracts import ConstraintSchema

from services.codegen.metric_table import DRIFT, FAST_BURN, LATENCY, PREDICTIONS, metric_table
from services.codegen.render_monitoring import render_alarms, runbook_md

SERVING_AND_TRAINING = {"serving_online", "training", "monitoring"}


def _alarms(constraints: ConstraintSchema, caps: set[str] = SERVING_AND_TRAINING) -> dict:
    return {a.key: a for a in metric_table(constraints, caps).alarms}


def test_thresholds_come_from_the_stated_targets():
    alarms = _alarms(ConstraintSchema(sla_latency_ms=80, availability_target=99.9, throughput_rps=3000))
    assert alarms["latency_p95"].threshold == 80
    assert alarms["error_rate"].threshold == round(FAST_BURN * 0.1, 3)
    assert alarms["traffic_floor"].threshold == 0.1 * 3000 * 60
    loose = _alarms(ConstraintSchema(sla_latency_ms=300, availability_target=99.0))
    assert loose["latency_p95"].threshold == 300 and loose["error_rate"].threshold > alarms["error_rate"].threshold


def test_a_traffic_floor_needs_a_stated_rate_and_treats_silence_as_failure():
    assert "traffic_floor" not in _alarms(ConstraintSchema(sla_latency_ms=80))
    floor = _alarms(ConstraintSchema(throughput_rps=50))["traffic_floor"]
    assert floor.missing_data == "breaching" and floor.prod_only
    silent = _alarms(ConstraintSchema())["latency_p95"]
    assert "no traffic floor" in silent.missing_reason, "without a floor the reason must not point to one"


def test_alarms_exist_only_for_what_the_plan_runs():
    batch = metric_table(ConstraintSchema(), {"serving_batch", "training"})
    assert [a.metric for a in batch.alarms] == [DRIFT.name]
    assert not metric_table(ConstraintSchema(), {"serving_batch"}).alarms


def test_structured_log_sampling_scales_with_the_stated_rate():
    assert metric_table(ConstraintSchema(throughput_rps=3000), SERVING_AND_TRAINING).sample_every == 60
    assert metric_table(ConstraintSchema(throughput_rps=20), SERVING_AND_TRAINING).sample_every == 1


def test_every_alarm_is_rendered_on_every_cloud_and_in_the_runbook():
    table = metric_table(ConstraintSchema(sla_latency_ms=80, throughput_rps=3000), SERVING_AND_TRAINING)
    runbook = runbook_md("Fraud", table, "aws")
    for cloud in ("aws", "gcp", "azure"):
        hcl = render_alarms(cloud, table)
        for alarm in table.alarms:
            assert f'"{alarm.key}"' in hcl, (cloud, alarm.key)
            assert f"docs/runbook.md#{alarm.key.replace('_', '-')}" in hcl
    for alarm in table.alarms:
        assert f"\n## {alarm.key.replace('_', '-')}\n" in runbook
    aws = render_alarms("aws", table)
    assert f'metric_name        = "{LATENCY.name}"' in aws and f'metric_name = "{PREDICTIONS.name}"' in aws
    assert 'local.environment == "prod" ? 1 : 0' in aws  # production-only alarms


@pytest.mark.parametrize(("cloud", "store", "metric", "watched"), [
    ("aws", "stream_processing_failed_batches_queue_url", "ApproximateNumberOfMessagesVisible",
     "failed_batches_queue_name"),
    ("gcp", "ingest_stream_dead_letter_subscription", "num_undelivered_messages", "dead_letter_subscription"),
])
def test_one_event_in_a_failure_store_pages_on_its_own_cloud(cloud, store, metric, watched):
    """The store's depth is the cloud's own metric, read from the store another module owns; it has
    a runbook entry naming the store's output, and no other cloud can render it."""
    plain = metric_table(ConstraintSchema(), {"stream_processing", "monitoring"})
    assert not plain.alarms
    table = metric_table(ConstraintSchema(), {"stream_processing", "monitoring"}, store)
    alarm = {a.key: a for a in table.alarms}["stream_failures"]
    assert (alarm.metric, alarm.threshold, alarm.comparison, alarm.wired) == (metric, 0, "above", watched)
    hcl = render_alarms(cloud, table)
    assert f"var.wired_{watched} ? 1 : 0" in hcl and f"var.{watched}" in hcl and metric in hcl
    runbook = runbook_md("Stream", table, cloud)
    assert f"| `{metric}` |" in runbook and f"output -raw {store})" in runbook
    for other in {"aws", "gcp", "azure"} - {cloud}:
        with pytest.raises(ValueError, match=metric):
            render_alarms(other, table)
    with pytest.raises(ValueError):
        metric_table(ConstraintSchema(), {"stream_processing"}, "stream_processing_function_name")


def test_a_failed_run_of_a_scheduled_job_pages_through_the_alarms_topic():
    """Training, ingest and batch runs that failed were seen by nobody: ingest's own docstring
    promised an alarm that did not exist. Each kind of scheduled job the plan builds has a rule
    matching its failed runs by the plan's name prefix, sending them to the alarms' topic."""
    jobs = ("aws_batch_job_definition", "aws_glue_job", "aws_sfn_state_machine")
    table = metric_table(ConstraintSchema(), {"orchestration", "monitoring"}, jobs=(*jobs, "aws_lambda_function"))
    [alarm] = table.alarms
    assert alarm.key == "job_failed" and set(alarm.jobs) == set(jobs), "only scheduled jobs are watched"
    hcl = render_alarms("aws", table)
    assert '"detail-type" = ["Step Functions Execution Status Change"]' in hcl
    assert '"detail-type" = ["Glue Job State Change"]' in hcl and '"detail-type" = ["Batch Job State Change"]' in hcl
    assert hcl.count('prefix = "${var.name_prefix}-"') == 2 and ":stateMachine:${var.name_prefix}-" in hcl
    assert "arn  = aws_sns_topic.alerts.arn" in hcl and "for_each = aws_cloudwatch_event_rule.job_failed" in hcl
    runbook = runbook_md("Jobs", table, "aws")
    assert "each failed run" in runbook and "Glue job runs" in runbook and "Step Functions" in runbook
    with pytest.raises(ValueError, match="does not run"):
        render_alarms("gcp", table)
    assert not metric_table(ConstraintSchema(), {"monitoring"}, jobs=("aws_lambda_function",)).alarms


@pytest.mark.parametrize(("cloud", "jobs", "marks"), [
    ("gcp", ("google_cloud_run_v2_job", "google_workflows_workflow"),
     ('workflows.googleapis.com/finished_execution_count\\" AND metric.labels.status=\\"FAILED\\"',
      'run.googleapis.com/job/completed_execution_count\\" AND metric.labels.result=\\"failed\\"',
      'starts_with(\\"${var.name_prefix}-\\")', "google_monitoring_notification_channel.oncall.id")),
    ("azure", ("azurerm_container_app_job", "azurerm_data_factory_pipeline"),
     ('metric_name      = "PipelineFailedRuns"', 'metric_name      = "Executions"', 'values   = ["Failed"]',
      "count               = var.wired_data_factory_id ? 1 : 0", "scopes              = [var.batch_job_id]",
      "action_group_id = azurerm_monitor_action_group.oncall.id")),
])
def test_failed_runs_page_on_google_cloud_and_azure_from_the_clouds_own_counts(cloud, jobs, marks):
    table = metric_table(ConstraintSchema(), {"orchestration", "serving_batch", "monitoring"}, jobs=jobs)
    hcl = render_alarms(cloud, table)
    for mark in marks:
        assert mark in hcl, mark
    assert hcl.count("docs/runbook.md#job-failed") >= 1


@pytest.mark.parametrize(("store", "kafka", "rps", "metric", "threshold", "cloud"), [
    ("stream_processing_failed_batches_queue_url", False, None, "IteratorAge", 300_000, "aws"),
    ("stream_processing_failed_batches_queue_url", True, 200, "OffsetLag", 60_000, "aws"),
    ("stream_processing_failed_batches_queue_url", True, None, "OffsetLag", 1000, "aws"),
    ("ingest_stream_dead_letter_subscription", False, None, "oldest_unacked_message_age", 300, "gcp"),
])
def test_a_consumer_five_minutes_behind_its_stream_pages(store, kafka, rps, metric, threshold, cloud):
    """Lag is measured the cloud's way for each consumer: the age of the last record read (Kinesis),
    records still to read (Kafka, five minutes of the stated rate), the oldest unacknowledged event
    (Pub/Sub push)."""
    table = metric_table(ConstraintSchema(throughput_rps=rps), {"stream_processing", "monitoring"}, store,
                         stream_kafka=kafka)
    lag = {a.key: a for a in table.alarms}["stream_lag"]
    assert (lag.metric, lag.threshold, lag.evaluation_periods) == (metric, threshold, 5)
    hcl = render_alarms(cloud, table)
    assert f'"{metric}"' in hcl or f"/{metric}" in hcl
    assert f"var.wired_{lag.wired} ? 1 : 0" in hcl and f"var.{lag.wired}" in hcl
    assert "## stream-lag" in runbook_md("Stream", table, cloud)
