"""Both sides of the metric table: the alarms in `infra/modules/monitoring`, and the runbook.

The module's static part (topic or channel, the on-call subscription) is a template; the alarms
are rendered here from `metric_table`, one per row, with the threshold, period, missing-data
treatment and a pointer to the row's runbook entry. The app side (what emits each metric) is
`services/common/metrics.py`, rendered from the same table by `render_metrics_code`.
"""

from __future__ import annotations

import json

from .metric_table import (
    DEAD_LETTERED,
    DRIFT,
    ERRORS,
    FAILED_BATCHES,
    FAILED_RUNS,
    ITERATOR_AGE,
    LATENCY,
    OFFSET_LAG,
    PREDICTIONS,
    SCHEDULED_JOBS,
    UNACKED_AGE,
    Alarm,
    MetricTable,
)
from .render_hcl import Block, Raw, document
from .render_text import fill, md_cell, template

_AWS_COMPARISON = {"above": "GreaterThanThreshold", "below": "LessThanThreshold"}
_GCP_COMPARISON = {"above": "COMPARISON_GT", "below": "COMPARISON_LT"}
_AZURE_OPERATOR = {"above": "GreaterThan", "below": "LessThan"}
_GCP_MISSING = {"breaching": "EVALUATION_MISSING_DATA_ACTIVE", "notBreaching": "EVALUATION_MISSING_DATA_INACTIVE"}
#: Log-based metric names (GCP) per table metric.
GCP_LOG_METRICS = {PREDICTIONS.name: "prediction_count", ERRORS.name: "prediction_errors",
                   LATENCY.name: "prediction_latency_ms", DRIFT.name: "feature_drift_psi"}


def runbook_anchor(alarm: Alarm) -> str:
    return f"docs/runbook.md#{alarm.key.replace('_', '-')}"


def _description(alarm: Alarm) -> str:
    return f"{alarm.meaning} Runbook: {runbook_anchor(alarm)}"


def _count(alarm: Alarm) -> list[tuple[str, object]]:
    if alarm.wired:
        return [("count", Raw(f"var.wired_{alarm.wired} ? 1 : 0"))]
    return [("count", Raw('local.environment == "prod" ? 1 : 0'))] if alarm.prod_only else []


def _comment(alarm: Alarm) -> str:
    return f"{alarm.title}: {alarm.derived_from}. Missing data: {alarm.missing_reason}."


def _name(alarm: Alarm) -> Raw:
    return Raw(f'"${{var.name_prefix}}-{alarm.key.replace("_", "-")}"')


#: The clouds' own metrics an alarm may watch, and whose they are.
_CLOUD_METRICS = {FAILED_BATCHES.name: "aws", DEAD_LETTERED.name: "gcp", ITERATOR_AGE.name: "aws",
                  OFFSET_LAG.name: "aws", UNACKED_AGE.name: "gcp"}
#: The AWS namespace and dimension of each of the cloud's metrics an alarm watches.
_AWS_CLOUD_METRICS = {FAILED_BATCHES.name: ("AWS/SQS", "QueueName"), ITERATOR_AGE.name: ("AWS/Lambda", "FunctionName"),
                      OFFSET_LAG.name: ("AWS/Lambda", "FunctionName")}



# ---- AWS: CloudWatch alarms on the embedded-metric-format metrics ----

#: How each scheduled job's service reports a run that ended badly, as an EventBridge pattern.
_AWS_JOB_EVENTS: dict[str, tuple[str, str, str, str, str]] = {
    # resource type: (source, detail-type, the detail field naming the job, the field of its state,
    # failed states)
    "aws_sfn_state_machine": ("aws.states", "Step Functions Execution Status Change", "stateMachineArn", "status",
                              '["FAILED", "TIMED_OUT", "ABORTED"]'),
    "aws_glue_job": ("aws.glue", "Glue Job State Change", "jobName", "state", '["FAILED", "TIMEOUT", "ERROR"]'),
    "aws_batch_job_definition": ("aws.batch", "Batch Job State Change", "jobName", "status", '["FAILED"]'),
}


#: How Cloud Monitoring counts a scheduled job's failed runs: (metric type and outcome, resource type,
#: the resource label naming the job).
_GCP_JOB_METRICS: dict[str, tuple[str, str, str]] = {
    "google_workflows_workflow": ('metric.type=\\"workflows.googleapis.com/finished_execution_count\\" '
                                  'AND metric.labels.status=\\"FAILED\\"', "workflows.googleapis.com/Workflow",
                                  "workflow_id"),
    "google_cloud_run_v2_job": ('metric.type=\\"run.googleapis.com/job/completed_execution_count\\" '
                                'AND metric.labels.result=\\"failed\\"', "cloud_run_job", "job_name"),
}
#: How Azure Monitor counts a scheduled job's failed runs: (the wired input holding the resource's id,
#: its metric namespace, the metric, a dimension filter or None).
_AZURE_JOB_METRICS: dict[str, tuple[str, str, str, tuple[str, str] | None]] = {
    "azurerm_data_factory_pipeline": ("data_factory_id", "Microsoft.DataFactory/factories", "PipelineFailedRuns", None),
    "azurerm_container_app_job": ("batch_job_id", "Microsoft.App/jobs", "Executions", ("state", "Failed")),
}
#: The scheduled jobs' resource types, by the cloud whose they are.
_JOB_CLOUDS = {**{job: "aws" for job in _AWS_JOB_EVENTS}, **{job: "gcp" for job in _GCP_JOB_METRICS},
               **{job: "azure" for job in _AZURE_JOB_METRICS}}


def _aws_job_rules(alarm: Alarm) -> list[Block | str]:
    """One EventBridge rule per kind of scheduled job, matching its runs by the plan's name prefix,
    each sending the event to the alarms' topic."""
    patterns: dict[str, object] = {}
    for job in alarm.jobs:
        source, detail_type, field, state, states = _AWS_JOB_EVENTS[job]
        prefix = ('"arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:'
                  '${data.aws_caller_identity.current.account_id}:stateMachine:${var.name_prefix}-"'
                  if field == "stateMachineArn" else '"${var.name_prefix}-"')
        patterns[source.removeprefix("aws.")] = Raw(
            f'jsonencode({{ source = ["{source}"], "detail-type" = ["{detail_type}"], '
            f"detail = {{ {field} = [{{ prefix = {prefix} }}], {state} = {states} }} }})")
    rule = Block("resource", ("aws_cloudwatch_event_rule", alarm.key), groups=[
        [("for_each", patterns)],
        [("name", Raw(f'"${{var.name_prefix}}-{alarm.key.replace("_", "-")}-${{each.key}}"')),
         ("description", _description(alarm)), ("event_pattern", Raw("each.value")), ("tags", Raw("var.tags"))]],
        comment=_comment(alarm))
    target = Block("resource", ("aws_cloudwatch_event_target", alarm.key), groups=[
        [("for_each", Raw(f"aws_cloudwatch_event_rule.{alarm.key}"))],
        [("rule", Raw("each.value.name")), ("arn", Raw("aws_sns_topic.alerts.arn"))]])
    # the partition comes from the module's template; the region only the state machines' prefix needs
    data = ['data "aws_region" "current" {}\n'] if "aws_sfn_state_machine" in alarm.jobs else []
    return [*data, rule, target]


def _aws_alarm(alarm: Alarm) -> Block:
    head = [*_count(alarm), ("alarm_name", _name(alarm)), ("alarm_description", _description(alarm))]
    common = [("comparison_operator", _AWS_COMPARISON[alarm.comparison]), ("threshold", alarm.threshold),
              ("evaluation_periods", alarm.evaluation_periods), ("datapoints_to_alarm", alarm.evaluation_periods),
              ("treat_missing_data", alarm.missing_data),
              ("alarm_actions", Raw("[aws_sns_topic.alerts.arn]")), ("ok_actions", Raw("[aws_sns_topic.alerts.arn]")),
              ("tags", Raw("var.tags"))]
    if alarm.metric in _AWS_CLOUD_METRICS:
        namespace, dimension = _AWS_CLOUD_METRICS[alarm.metric]
        own = [("namespace", namespace), ("metric_name", alarm.metric), ("period", alarm.period_s),
               ("statistic", "Maximum"), ("dimensions", {dimension: Raw(f"var.{alarm.wired}")})]
        return Block("resource", ("aws_cloudwatch_metric_alarm", alarm.key), groups=[head, own, common],
                     comment=_comment(alarm))
    if alarm.statistic == "error_ratio":
        def query(qid: str, metric: str) -> Block:
            return Block("metric_query", groups=[[("id", qid)]], blocks=[Block("metric", groups=[[
                ("namespace", Raw("local.namespace")), ("metric_name", metric), ("period", alarm.period_s),
                ("stat", "Sum")]])])
        ratio = Block("metric_query", groups=[[
            ("id", "error_pct"), ("expression", "IF(requests > 0, 100 * errors / requests, 0)"),
            ("label", "Server errors, % of requests"), ("return_data", True)]])
        return Block("resource", ("aws_cloudwatch_metric_alarm", alarm.key), groups=[head, common],
                     blocks=[ratio, query("errors", ERRORS.name), query("requests", PREDICTIONS.name)],
                     comment=_comment(alarm))
    stat: list[tuple[str, object]] = [("namespace", Raw("local.namespace")), ("metric_name", alarm.metric),
                                      ("period", alarm.period_s)]
    if alarm.statistic == "p95":
        stat.append(("extended_statistic", "p95"))
    else:
        stat.append(("statistic", {"sum": "Sum", "max": "Maximum"}[alarm.statistic]))
    return Block("resource", ("aws_cloudwatch_metric_alarm", alarm.key), groups=[head, stat, common],
                 comment=_comment(alarm))


# ---- GCP: log-based metrics and alert policies ----

def _gcp_log_metrics(table: MetricTable) -> list[Block]:
    blocks = []
    for metric in table.metrics:
        if metric.name not in GCP_LOG_METRICS:
            continue  # the cloud's own metric (the dead letters' count) needs no log-based metric
        name = GCP_LOG_METRICS[metric.name]
        if metric is DRIFT:
            flt = Raw('"jsonPayload.metric=\\"FeatureDriftPSI\\" AND jsonPayload.service=\\"${var.name_prefix}\\""')
        elif metric is ERRORS:
            flt = Raw('"${local.serving} AND jsonPayload.error=true"')
        else:
            flt = Raw("local.serving")
        group: list[tuple[str, object]] = [("project", Raw("var.project_id")),
                                           ("name", Raw(f'"${{var.name_prefix}}-{name.replace("_", "-")}"')),
                                           ("description", metric.description), ("filter", flt)]
        inner: list[Block] = []
        if metric.kind in ("distribution", "gauge"):
            field = "latency_ms" if metric is LATENCY else "value"
            group.append(("value_extractor", f"EXTRACT(jsonPayload.{field})"))
            descriptor = [("metric_kind", "DELTA"), ("value_type", "DISTRIBUTION"), ("unit", _gcp_unit(metric.unit))]
            inner.append(Block("metric_descriptor", groups=[descriptor]))
            buckets = ([("num_finite_buckets", 64), ("growth_factor", 1.2), ("scale", 1)] if metric is LATENCY
                       else [("num_finite_buckets", 40), ("width", 0.025), ("offset", 0)])
            kind = "exponential_buckets" if metric is LATENCY else "linear_buckets"
            inner.append(Block("bucket_options", blocks=[Block(kind, groups=[buckets])]))
        else:
            inner.append(Block("metric_descriptor", groups=[[("metric_kind", "DELTA"), ("value_type", "INT64"),
                                                             ("unit", "1")]]))
        blocks.append(Block("resource", ("google_logging_metric", name), groups=[group], blocks=inner,
                            comment=f"{metric.name}: {metric.description} Emitted by the {metric.emitter}."))
    return blocks


def _gcp_unit(unit: str) -> str:
    return {"Milliseconds": "ms", "Count": "1"}.get(unit, "1")


def _gcp_filter(metric: str, resource: str) -> Raw:
    name = GCP_LOG_METRICS[metric]
    return Raw(f'"metric.type=\\"logging.googleapis.com/user/${{google_logging_metric.{name}.name}}\\" '
               f'AND resource.type=\\"{resource}\\""')


def _gcp_subscription_metric(alarm: Alarm) -> Raw:
    """A Pub/Sub metric of the subscription the alarm's wired input names."""
    return Raw(f'"metric.type=\\"pubsub.googleapis.com/subscription/{alarm.metric}\\" '
               f'AND resource.type=\\"pubsub_subscription\\" '
               f'AND resource.labels.subscription_id=\\"${{var.{alarm.wired}}}\\""')


def _gcp_job_alert(alarm: Alarm) -> Block:
    """One policy, one condition per kind of scheduled job: any failed run in five minutes pages."""
    conditions = []
    for job in alarm.jobs:
        outcome, resource, label = _GCP_JOB_METRICS[job]
        flt = Raw(f'"{outcome} AND resource.type=\\"{resource}\\" '
                  f'AND resource.labels.{label}=starts_with(\\"${{var.name_prefix}}-\\")"')
        agg = Block("aggregations", groups=[[("alignment_period", "300s"), ("per_series_aligner", "ALIGN_SUM"),
                                             ("cross_series_reducer", "REDUCE_SUM")]])
        cond = [("filter", flt), ("comparison", "COMPARISON_GT"), ("threshold_value", 0), ("duration", "0s"),
                ("evaluation_missing_data", _GCP_MISSING[alarm.missing_data])]
        conditions.append(Block("conditions", groups=[[("display_name", f"failed runs of {SCHEDULED_JOBS[job]}")]],
                                blocks=[Block("condition_threshold", groups=[cond], blocks=[agg])]))
    docs = Block("documentation", groups=[[("content", _description(alarm)), ("mime_type", "text/markdown")]])
    head = [("project", Raw("var.project_id")), ("display_name", Raw(f'"${{var.name_prefix}} {alarm.title}"')),
            ("combiner", "OR"), ("notification_channels", Raw("[google_monitoring_notification_channel.oncall.id]")),
            ("user_labels", Raw("var.tags"))]
    return Block("resource", ("google_monitoring_alert_policy", alarm.key), groups=[head],
                 blocks=[*conditions, docs], comment=_comment(alarm))


def _gcp_alert(alarm: Alarm, sample_every: int, serving_resource: str) -> Block:
    if alarm.metric == FAILED_RUNS.name:
        return _gcp_job_alert(alarm)
    resource = "global" if alarm.metric == DRIFT.name else serving_resource
    period = f"{alarm.period_s}s"
    threshold = alarm.threshold
    aligner, reducer = {"p95": ("ALIGN_PERCENTILE_95", "REDUCE_MAX"), "max": ("ALIGN_PERCENTILE_99", "REDUCE_MAX"),
                        "sum": ("ALIGN_SUM", "REDUCE_SUM"), "error_ratio": ("ALIGN_SUM", "REDUCE_SUM")}[alarm.statistic]
    if alarm.statistic == "sum":
        threshold = alarm.threshold / sample_every  # the logs hold one request in `sample_every`
    if alarm.statistic == "error_ratio":
        threshold = alarm.threshold / 100
    pubsub = alarm.metric in (DEAD_LETTERED.name, UNACKED_AGE.name)
    if pubsub:  # a gauge, not a log-based distribution
        aligner, reducer = "ALIGN_MAX", "REDUCE_MAX"
    agg = Block("aggregations", groups=[[("alignment_period", period), ("per_series_aligner", aligner),
                                         ("cross_series_reducer", reducer)]])
    flt = _gcp_subscription_metric(alarm) if pubsub else _gcp_filter(alarm.metric, resource)
    cond: list[tuple[str, object]] = [("filter", flt),
                                      ("comparison", _GCP_COMPARISON[alarm.comparison]),
                                      ("threshold_value", round(threshold, 6)),
                                      ("duration", f"{alarm.period_s * (alarm.evaluation_periods - 1)}s"),
                                      ("evaluation_missing_data", _GCP_MISSING[alarm.missing_data])]
    blocks = [agg]
    if alarm.statistic == "error_ratio":
        cond.append(("denominator_filter", _gcp_filter(PREDICTIONS.name, resource)))
        blocks.append(Block("denominator_aggregations", groups=[[
            ("alignment_period", period), ("per_series_aligner", "ALIGN_SUM"), ("cross_series_reducer", "REDUCE_SUM")]]))
    condition = Block("conditions", groups=[[("display_name", alarm.title)]],
                      blocks=[Block("condition_threshold", groups=[cond], blocks=blocks)])
    docs = Block("documentation", groups=[[("content", _description(alarm)), ("mime_type", "text/markdown")]])
    head = [*_count(alarm), ("project", Raw("var.project_id")),
            ("display_name", Raw(f'"${{var.name_prefix}} {alarm.title}"')), ("combiner", "OR"),
            ("notification_channels", Raw("[google_monitoring_notification_channel.oncall.id]")),
            ("user_labels", Raw("var.tags"))]
    return Block("resource", ("google_monitoring_alert_policy", alarm.key), groups=[head], blocks=[condition, docs],
                 comment=_comment(alarm))


# ---- Azure: log search alerts over the serving logs; a metric alert on the drift ----

_AZURE_LOGS = (
    "union isfuzzy=true\n"
    '  (ContainerAppConsoleLogs_CL | extend line = tostring(column_ifexists("Log_s", "")), '
    'source = tostring(column_ifexists("ContainerAppName_s", ""))),\n'
    '  (ContainerLogV2 | extend line = tostring(column_ifexists("LogMessage", "")), '
    'source = tostring(column_ifexists("PodName", ""))),\n'
    '  (AppTraces | extend line = tostring(column_ifexists("Message", "")), '
    'source = tostring(column_ifexists("AppRoleName", "")))\n'
    '| where source startswith "${var.name_prefix}"\n'
    "| extend m = parse_json(line)\n"
    '| where tostring(m.event) == "prediction"\n'
)


def _azure_query(alarm: Alarm, sample_every: int) -> str:
    summary = {
        "p95": "| summarize value = percentile(todouble(m.latency_ms), 95)",
        "error_ratio": "| summarize value = 100.0 * countif(tobool(m.error)) / count()",
        "sum": f"| summarize value = count() * {sample_every} / {max(1, alarm.period_s // 60)}",
    }[alarm.statistic]
    return _AZURE_LOGS + summary + "\n"


def _iso_minutes(seconds: int) -> str:
    return f"PT{seconds // 60}M" if seconds < 86400 else f"P{seconds // 86400}D"


def _azure_job_alerts(alarm: Alarm) -> list[Block]:
    """A metric alert per kind of scheduled job, on the resource the plan wires in."""
    blocks = []
    for job in alarm.jobs:
        wired, namespace, metric, dimension = _AZURE_JOB_METRICS[job]
        criteria = Block("criteria", groups=[[("metric_namespace", namespace), ("metric_name", metric),
                                              ("aggregation", "Total"), ("operator", "GreaterThan"),
                                              ("threshold", 0)]],
                         blocks=[Block("dimension", groups=[[("name", dimension[0]), ("operator", "Include"),
                                                             ("values", [dimension[1]])]])] if dimension else [])
        action = Block("action", groups=[[("action_group_id", Raw("azurerm_monitor_action_group.oncall.id"))]])
        head = [("count", Raw(f"var.wired_{wired} ? 1 : 0")),
                ("name", Raw(f'"${{var.name_prefix}}-{alarm.key.replace("_", "-")}-{wired.removesuffix("_id").replace("_", "-")}"')),
                ("resource_group_name", Raw("var.resource_group_name")), ("scopes", Raw(f"[var.{wired}]")),
                ("description", _description(alarm)), ("severity", 2), ("frequency", "PT5M"), ("window_size", "PT5M"),
                ("tags", Raw("var.tags"))]
        blocks.append(Block("resource", ("azurerm_monitor_metric_alert", f"{alarm.key}_{wired.removesuffix('_id')}"),
                            groups=[head], blocks=[criteria, action], comment=_comment(alarm)))
    return blocks


def _azure_alert(alarm: Alarm, sample_every: int) -> Block:
    action = Block("action", groups=[[("action_groups", Raw("[azurerm_monitor_action_group.oncall.id]"))]])
    comment = _comment(alarm)
    if alarm.metric == DRIFT.name:
        action = Block("action", groups=[[("action_group_id", Raw("azurerm_monitor_action_group.oncall.id"))]])
        # Metric alerts cannot treat no data as breaching; a failed drift run reports through
        # GitHub's failed-workflow notification instead (see the runbook).
        criteria = Block("criteria", groups=[[("metric_namespace", "mlops"), ("metric_name", DRIFT.name),
                                              ("aggregation", "Maximum"),
                                              ("operator", _AZURE_OPERATOR[alarm.comparison]),
                                              ("threshold", alarm.threshold), ("skip_metric_validation", True)]])
        head = [*_count(alarm), ("name", _name(alarm)), ("resource_group_name", Raw("var.resource_group_name")),
                ("scopes", Raw("[azurerm_application_insights.model.id]")), ("description", _description(alarm)),
                ("severity", 3), ("frequency", "PT1H"), ("window_size", "P1D"), ("tags", Raw("var.tags"))]
        return Block("resource", ("azurerm_monitor_metric_alert", alarm.key), groups=[head],
                     blocks=[criteria, action], comment=comment)
    query = Raw("<<-KQL\n" + "".join(f"      {line}\n" for line in _azure_query(alarm, sample_every).splitlines())
                + "    KQL")
    window = _iso_minutes(alarm.period_s)
    failing = Block("failing_periods", groups=[[("minimum_failing_periods_to_trigger_alert", alarm.evaluation_periods),
                                                ("number_of_evaluation_periods", alarm.evaluation_periods)]])
    criteria = Block("criteria", groups=[
        [("query", query)],
        [("time_aggregation_method", "Maximum"), ("metric_measure_column", "value"),
         ("operator", _AZURE_OPERATOR[alarm.comparison]), ("threshold", alarm.threshold)]], blocks=[failing])
    head = [*_count(alarm), ("name", _name(alarm)), ("resource_group_name", Raw("var.resource_group_name")),
            ("location", Raw("var.region")),
            # The serving logs are the environment's, or those of the team's AKS cluster the API runs on.
            ("scopes", Raw("[var.wired_serving_cluster_id ? var.serving_cluster_id : var.resource_group_id]")),
            ("description", _description(alarm)), ("severity", 2), ("evaluation_frequency", window),
            ("window_duration", window), ("tags", Raw("var.tags"))]
    return Block("resource", ("azurerm_monitor_scheduled_query_rules_alert_v2", alarm.key), groups=[head],
                 blocks=[criteria, action], comment=comment)


def render_alarms(cloud: str, table: MetricTable, serving_resource: str = "cloud_run_revision") -> str:
    """The alarm resources of the monitoring module, appended to its static template.
    `serving_resource`: the monitored resource type of the serving logs on Google Cloud (Cloud Run's
    revisions, or `k8s_container` for pods on the team's GKE cluster)."""
    for alarm in table.alarms:
        if _CLOUD_METRICS.get(alarm.metric, cloud) != cloud:
            raise ValueError(f"alarm {alarm.key} watches {alarm.metric}, a metric of {_CLOUD_METRICS[alarm.metric]}")
        if other := [job for job in alarm.jobs if _JOB_CLOUDS.get(job) != cloud]:
            raise ValueError(f"alarm {alarm.key} watches jobs {other}, which {cloud} does not run")
    if cloud == "aws":
        blocks: list[Block | str] = [b for a in table.alarms for b in (
            _aws_job_rules(a) if a.metric == FAILED_RUNS.name else [_aws_alarm(a)])]
    elif cloud == "gcp":
        blocks = [*_gcp_log_metrics(table), *(_gcp_alert(a, table.sample_every, serving_resource)
                                              for a in table.alarms)]
    else:
        blocks = [b for a in table.alarms for b in (
            _azure_job_alerts(a) if a.metric == FAILED_RUNS.name else [_azure_alert(a, table.sample_every)])]
    return document(blocks) if blocks else ""


# ---- the runbook ----

def runbook_md(project_name: str, table: MetricTable, cloud: str, extra: list[str] | None = None) -> str:
    """docs/runbook.md: the metric table, then one entry per alarm, then `extra` sections (the audit
    trail's security alarms)."""
    subscriber = {"aws": "the SNS topic `<name_prefix>-alerts` (email subscription to `alert_email`, confirmed once)",
                  "gcp": "the notification channel `<name_prefix> on-call` (email to `alert_email`)",
                  "azure": "the action group `<name_prefix>-oncall` (email to `alert_email`)"}[cloud]
    out = [f"# Runbook: {project_name}", "",
           "Every alarm of `infra/modules/monitoring` has an entry here; every metric an alarm watches is emitted",
           "by what the table names: the generated code, or the cloud itself for its own resources and jobs.",
           "Both are rendered from one table, so they cannot drift apart.",
           f"Alarms notify {subscriber}.", "",
           "## Metrics", "", "| metric | unit | emitted by | meaning |", "|---|---|---|---|"]
    out += [f"| `{m.name}` | {m.unit} | {md_cell(m.emitter)} | {md_cell(m.description)} |" for m in table.metrics]
    if table.sample_every > 1:
        out += ["", f"On log-based clouds the serving code logs one request in {table.sample_every} (log ingestion "
                "is billed per line); counts are scaled back, and percentiles and ratios are unbiased estimates."]
    out += ["", "## Alarms", "", "| alarm | metric | fires when | derived from | missing data |", "|---|---|---|---|---|"]
    for a in table.alarms:
        when = (f"{a.statistic} {a.comparison} {a.threshold:g} {a.unit} for {a.evaluation_periods} x {a.period_s} s"
                if a.statistic != "event" else "each failed run")
        out.append(f"| [{a.key}](#{a.key.replace('_', '-')}) | `{a.metric}` | {md_cell(when)} | "
                   f"{md_cell(a.derived_from)} | {a.missing_data}: {md_cell(a.missing_reason)} |")
    if not table.alarms:
        out += ["", "The plan has no online serving and no training, so there is no alarm yet."]
    for a in table.alarms:
        scope = " Production only: quiet development and staging environments are normal." if a.prod_only else ""
        out += ["", f"## {a.key.replace('_', '-')}", "", f"**{a.title[:1].upper() + a.title[1:]}.** {a.meaning}{scope}", "",
                (f"Threshold: {a.threshold:g} {a.unit} ({a.derived_from})." if a.statistic != "event"
                 else f"Fires on each failed run ({a.derived_from})."), "", "What to do:", ""]
        out += [f"{i}. {step}" for i, step in enumerate(a.runbook, 1)]
    out += extra or []
    return "\n".join(out) + "\n"


# ---- the app side ----

def render_metrics_code(cloud: str, table: MetricTable) -> dict[str, str]:
    """`services/common/metrics.py` (serving's emission) and `services/common/drift.py` (the drift job)."""
    # The serving API exists in every generated repository, so it always measures itself; the
    # alarms on these metrics exist when the plan serves online.
    serving = (PREDICTIONS, ERRORS, LATENCY)
    files = {"services/common/metrics.py": fill(
        "app/services/common/metrics.py.tmpl", cloud=json.dumps(cloud), sample_every=table.sample_every,
        count=json.dumps(PREDICTIONS.name), errors=json.dumps(ERRORS.name), latency=json.dumps(LATENCY.name),
        units="{\n" + "".join(f"    {json.dumps(m.name)}: {json.dumps(m.unit)},\n" for m in serving) + "}"),
        "services/common/tests/test_metrics.py": template("app/services/common/tests/test_metrics.py.tmpl")}
    return files
