"""One table of the generated system's metrics and alarms, from which both sides are rendered.

The serving code's metric emission (`services/common/metrics.py`), the drift job's publication,
the alarms of `infra/modules/monitoring` and the runbook entries all come from here, so an alarm
can only watch a metric that something emits, and every alarm has a runbook entry. Thresholds
are derived from what the requirements stated (p95 latency, availability, request rate), and
each alarm says how missing data is treated and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from amp_contracts import ConstraintSchema
from amp_domain.build import api_rps

#: Availability assumed when none was stated (the platform's default serving target).
DEFAULT_AVAILABILITY = 99.5
#: p95 latency assumed when none was stated, in milliseconds.
DEFAULT_P95_MS = 200.0
#: Error-budget burn rate that pages: at 14.4x a 30-day budget is gone in about two days.
FAST_BURN = 14.4
#: A traffic floor pages when requests fall below this share of the stated rate.
TRAFFIC_FLOOR_SHARE = 0.1
#: Population stability index above which a feature has shifted enough to retrain.
PSI_THRESHOLD = 0.2
#: Sampled log lines per second the structured-log clouds aim for (log ingestion is billed).
LOG_LINES_PER_SECOND = 50

SERVING = "serving API (services/common/metrics.py, called for every /predict request)"
DRIFT_JOB = "drift workflow (.github/workflows/drift.yml, daily)"

#: Root outputs (suffixes) naming where a stream consumer's failures are kept: the queue of failed
#: batches (AWS Lambda consumer), the dead-letter subscription (Pub/Sub).
FAILED_QUEUE = "_failed_batches_queue_url"
DEAD_LETTERS = "_dead_letter_subscription"


@dataclass(frozen=True)
class Metric:
    """One metric: what it measures and who emits it."""

    name: str
    unit: str
    kind: str  # counter | distribution | gauge
    emitter: str
    description: str


@dataclass(frozen=True)
class Alarm:
    """One alarm on a metric of the table, with its derivation and its runbook entry."""

    key: str
    title: str
    metric: str
    statistic: str  # p95 | error_ratio | sum | max
    comparison: str  # above | below
    threshold: float
    unit: str
    period_s: int
    evaluation_periods: int
    missing_data: str  # breaching | notBreaching
    missing_reason: str
    derived_from: str
    meaning: str
    runbook: tuple[str, ...]
    prod_only: bool = False
    #: The monitoring module's wired input the alarm reads (the cloud's own metric of another module's
    #: resource); the alarm exists where that input is wired.
    wired: str = ""
    #: For an alarm on failed runs (statistic "event"): the resource types of the plan's scheduled jobs.
    jobs: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricTable:
    metrics: tuple[Metric, ...]
    alarms: tuple[Alarm, ...]
    sample_every: int  # structured-log clouds log one request in this many

    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)

    def emitted_by(self, emitter: str) -> list[str]:
        return [m.name for m in self.metrics if m.emitter == emitter]


PREDICTIONS = Metric("PredictionCount", "Count", "counter", SERVING, "Requests to /predict, answered or not.")
ERRORS = Metric("PredictionErrors", "Count", "counter", SERVING,
                "Requests to /predict that failed on the server side (HTTP 5xx or an exception).")
LATENCY = Metric("PredictionLatencyMs", "Milliseconds", "distribution", SERVING,
                 "Time from request to response of /predict, as the service measures it.")
DRIFT = Metric("FeatureDriftPSI", "None", "gauge", DRIFT_JOB,
               "Largest population stability index of any feature, newest data against the approved model's training data.")
#: The cloud's own count of what waits in a stream consumer's failure store, per kind of store.
FAILED_BATCHES = Metric("ApproximateNumberOfMessagesVisible", "Count", "gauge",
                        "Amazon SQS, for the failed-batch queue of infra/modules/stream_processing",
                        "Stream batches the consumer gave up on after its retries, waiting to be replayed.")
DEAD_LETTERED = Metric("num_undelivered_messages", "Count", "gauge",
                       "Pub/Sub, for the dead-letter subscription of infra/modules/ingest_stream",
                       "Events the stream consumer failed on ten times, waiting to be looked at and published again.")


def _fmt(x: float) -> str:
    return f"{x:g}"


#: The resource types that run a plan's scheduled jobs, and what each is, per cloud. A run of any
#: of them that fails is reported by the cloud itself (a state-change event, a failed-runs metric).
SCHEDULED_JOBS: dict[str, str] = {
    "aws_sfn_state_machine": "the training orchestration (Step Functions execution history)",
    "aws_glue_job": "the ingest job (Glue job runs, and its log group /aws-glue/jobs)",
    "aws_batch_job_definition": "the nightly Batch jobs (their log group /batch/<name_prefix>-...)",
    "google_workflows_workflow": "the training workflow (its executions in Workflows)",
    "google_cloud_run_v2_job": "the ingest and batch scoring jobs (their executions in Cloud Run, with their logs)",
    "azurerm_data_factory_pipeline": "the retraining pipeline (Data Factory's monitor, pipeline runs)",
    "azurerm_container_app_job": "the batch scoring job (its execution history in Container Apps, with its logs)",
}
FAILED_RUNS = Metric("FailedJobRuns", "Count", "event",
                     "the cloud's job services (a state-change event or a failed-runs count per job)",
                     "Runs of the scheduled jobs (training, ingest, batch scoring) that ended failed, timed out "
                     "or aborted.")


def _job_alarm(jobs: tuple[str, ...]) -> Alarm:
    """Every failed run of a scheduled job pages: a training run that fails leaves the old model
    serving, an ingest or scoring run that fails leaves yesterday's data, and nothing else says so."""
    where = "; ".join(SCHEDULED_JOBS[j] for j in jobs)
    return Alarm(
        key="job_failed", title="a scheduled job failed", metric=FAILED_RUNS.name, statistic="event",
        comparison="above", threshold=0, unit="failed runs", period_s=0, evaluation_periods=1,
        missing_data="notBreaching", missing_reason="each failed run is an event; no event means no failure",
        derived_from="a scheduled run that fails leaves the model or the data a day older, silently",
        meaning="A run of a scheduled job ended failed, timed out or was aborted; the notification names the "
                "job and the run.",
        runbook=(
            f"Open the failed run and its logs: {where}.",
            "A run that stopped on its data says so in its last lines (ingest refused a file whose header "
            "lacks the schema's columns; training found more unusable rows than [data] max_rejected_fraction, "
            "or no data under raw/): fix or replace the data, then start the job again.",
            "A run that failed on access or capacity (a denied call, no capacity, a timeout) is fixed in "
            "infra/, deployed, and started again; the next scheduled run also retries it.",
        ),
        jobs=jobs,
    )


#: How far behind the stream its consumer may fall before it pages, in seconds.
MAX_LAG_S = 300
#: The cloud's measure of how far a stream consumer is behind, per kind of consumer.
ITERATOR_AGE = Metric("IteratorAge", "Milliseconds", "gauge",
                      "AWS Lambda, for the stream consumer of infra/modules/stream_processing (Kinesis)",
                      "Age of the last record the consumer read: how far behind the stream it runs.")
OFFSET_LAG = Metric("OffsetLag", "Count", "gauge",
                    "AWS Lambda, for the stream consumer of infra/modules/stream_processing (Kafka)",
                    "Records the consumer has yet to read on the topic: how far behind the stream it runs.")
UNACKED_AGE = Metric("oldest_unacked_message_age", "Seconds", "gauge",
                     "Pub/Sub, for the consumer's push subscription of infra/modules/stream_processing",
                     "Age of the oldest event the consumer has not acknowledged: how far behind the stream it runs.")


def _lag_alarm(failures: str, kafka: bool, rps: float | None) -> tuple[Metric, Alarm]:
    """The consumer falling behind: scores arrive late, then events expire from the stream's
    retention. Five minutes behind misses any real-time target; with Kafka the lag is counted in
    records, five minutes of the stated rate."""
    minutes = MAX_LAG_S // 60
    if failures.endswith(DEAD_LETTERS):
        metric, wired, threshold, unit = UNACKED_AGE, "consumer_subscription", float(MAX_LAG_S), "s"
        derived = f"{minutes} minutes behind misses any real-time target"
    elif kafka:
        metric, wired, unit = OFFSET_LAG, "stream_consumer_function", "records"
        threshold = float(max(1000, round((rps or 0) * MAX_LAG_S)))
        derived = (f"{minutes} minutes of the stated {rps:g} events/s" if rps else
                   "no event rate stated: 1000 records behind")
    else:
        metric, wired, threshold, unit = ITERATOR_AGE, "stream_consumer_function", float(MAX_LAG_S * 1000), "ms"
        derived = f"{minutes} minutes behind misses any real-time target"
    return metric, Alarm(
        key="stream_lag", title="the stream consumer is falling behind", metric=metric.name, statistic="max",
        comparison="above", threshold=threshold, unit=unit, period_s=60, evaluation_periods=5,
        missing_data="notBreaching", missing_reason="no events means nothing to fall behind on",
        derived_from=derived,
        meaning="The consumer reads the stream more slowly than events arrive, for five minutes: scores come "
                "late, and events older than the stream's retention are lost unscored.",
        runbook=(
            "Check the consumer's errors first (its logs, the stream-failures alarm): a consumer that fails and "
            "retries falls behind.",
            "Check its throttling and concurrency: a surge beyond the planned rate needs more shards, partitions "
            "or instances (sizing in infra/environments/<env>.tfvars), deployed through the pipeline.",
            "Check the scoring latency: a slower model or a slow registry read makes each batch take longer.",
        ),
        wired=wired,
    )


def pull_dead_letters(output: str) -> str:
    """The command that shows the dead letters kept on the subscription of root output `output`."""
    return f'gcloud pubsub subscriptions pull "$(terraform -chdir=infra output -raw {output})" --limit 10'


def replay_failed(output: str) -> str:
    """The command that scores the failed batches recorded on the queue of root output `output` again."""
    return f'python -m pipelines.replay_failed "$(terraform -chdir=infra output -raw {output})"'


def _failure_alarm(failures: str) -> tuple[Metric, Alarm]:
    """The alarm on a stream consumer's failure store, named by its root output.

    Nothing in the store is normal, so one waiting message pages: a batch or event there is data the
    system received and did not score, and the store keeps it for a limited time (14 days on the
    queue, 7 on the subscription).
    """
    if failures.endswith(FAILED_QUEUE):
        metric, wired, kept = FAILED_BATCHES, "failed_batches_queue_name", "14 days"
        look = ("Read the positions kept on the queue: `aws sqs receive-message --queue-url "
                f'"$(terraform -chdir=infra output -raw {failures})" --max-number-of-messages 10` '
                "(stream, shard or partition, first and last position of each failed batch).")
        again = ("Once the cause is fixed, score the failed batches again into the files they would have written: "
                 f"`{replay_failed(failures)}` (it deletes each message it replayed).")
    elif failures.endswith(DEAD_LETTERS):
        metric, wired, kept = DEAD_LETTERED, "dead_letter_subscription", "7 days"
        look = f"Look at the dead letters: `{pull_dead_letters(failures)}` (without --auto-ack they stay)."
        again = ("Once the cause is fixed, publish them to the events topic again and acknowledge them on the "
                 "dead-letter subscription.")
    else:
        raise ValueError(f"{failures!r} names no failure store")
    return metric, Alarm(
        key="stream_failures", title="stream events the consumer gave up on", metric=metric.name, statistic="max",
        comparison="above", threshold=0, unit="messages", period_s=300, evaluation_periods=1,
        missing_data="notBreaching",
        missing_reason="the cloud stops reporting an empty, idle store; no data means nothing waits in it",
        derived_from=f"any event the consumer could not score is data lost once the store's {kept} run out",
        meaning="Stream events arrived that the consumer could not score, even after its retries; they wait in "
                f"the failure store for {kept}, then are gone.",
        runbook=(
            look,
            "Read the stream consumer's logs around the first failure: most often the registry is unreachable or "
            "no model is approved yet (MODEL_URI/approved.json), or a deployment broke the scoring code.",
            again,
        ),
        wired=wired,
    )


def metric_table(constraints: ConstraintSchema, caps: set[str], failures: str | None = None,
                 jobs: tuple[str, ...] = (), stream_kafka: bool = False) -> MetricTable:
    """The metrics and alarms of a plan: serving alarms when it serves online, drift when it trains,
    one on the stream consumer's failure store when `failures` (its root output) names one and one on
    its lag (counted in records when the stream is Kafka, `stream_kafka`), and one on failed runs of
    the scheduled jobs `jobs` (resource types of `SCHEDULED_JOBS`) the plan builds."""
    metrics: list[Metric] = []
    alarms: list[Alarm] = []
    events = constraints.throughput_rps
    rps = api_rps(constraints)
    sample_every = max(1, int((rps or 0) // LOG_LINES_PER_SECOND))
    if "serving_online" in caps:
        metrics += [PREDICTIONS, ERRORS, LATENCY]
        p95 = float(constraints.sla_latency_ms or DEFAULT_P95_MS)
        stated_p95 = f"stated p95 {_fmt(p95)} ms" if constraints.sla_latency_ms else f"no p95 stated; default {_fmt(p95)} ms"
        availability = float(constraints.availability_target or DEFAULT_AVAILABILITY)
        budget_pct = 100.0 - availability
        error_pct = round(min(50.0, FAST_BURN * budget_pct), 3)
        stated_av = (f"stated availability {_fmt(availability)} %" if constraints.availability_target
                     else f"no availability stated; default {_fmt(availability)} %")
        silence = ("silence is the traffic alarm's to catch" if rps else
                   "no request rate was stated, so there is no traffic floor: the load balancer's health checks "
                   "and the deploy smoke test catch a dead service")
        alarms.append(Alarm(
            key="latency_p95", title="p95 latency above target", metric=LATENCY.name, statistic="p95",
            comparison="above", threshold=p95, unit="ms", period_s=60, evaluation_periods=5,
            missing_data="notBreaching",
            missing_reason=f"no requests means no latency to judge; {silence}",
            derived_from=stated_p95,
            meaning="Callers wait longer than the latency target for five minutes in a row.",
            runbook=(
                "Check the request rate: a surge beyond the planned rate saturates the instances; autoscaling should be adding capacity (see the service's desired and running counts).",
                "Check CPU and memory of the serving instances; sustained saturation means the sizing in infra/ is too small for the load.",
                "Check whether a deployment or a model promotion just happened (deploy.yml, promote.yml); roll back by re-running the previous deploy or promoting the previous run id.",
                "Check dependencies the request path calls (feature store, network endpoints) for their own latency.",
            ),
        ))
        alarms.append(Alarm(
            key="error_rate", title="server error rate burning the availability budget", metric=ERRORS.name,
            statistic="error_ratio", comparison="above", threshold=error_pct, unit="%", period_s=300,
            evaluation_periods=3, missing_data="notBreaching",
            missing_reason=f"no requests means no errors; {silence}",
            derived_from=f"{stated_av}: error budget {_fmt(round(budget_pct, 3))} %, paged at {_fmt(FAST_BURN)}x burn",
            meaning="More /predict calls fail on the server side than the availability target allows, for 15 minutes.",
            runbook=(
                "Read the serving logs for the failing requests' exceptions.",
                "Check /readyz of the instances: 503 means the model could not be loaded from MODEL_URI/approved.json (check the file and the service's read access).",
                "If errors began with a deployment or a promotion, roll back (re-run the previous deploy, or promote the previous run id).",
                "Check the health of the load balancer targets and of the network path to any dependency.",
            ),
        ))
        if rps:
            floor = max(1.0, round(TRAFFIC_FLOOR_SHARE * rps * 60))
            alarms.append(Alarm(
                key="traffic_floor", title="requests fell below the expected floor", metric=PREDICTIONS.name,
                statistic="sum", comparison="below", threshold=floor, unit="requests per minute", period_s=60,
                evaluation_periods=10, missing_data="breaching",
                missing_reason="a service that stopped answering emits nothing, so no data is itself the failure",
                derived_from=f"stated rate {_fmt(rps)} requests/s: floor {_fmt(TRAFFIC_FLOOR_SHARE * 100)} % of it per minute",
                meaning="Production receives almost no scoring requests for ten minutes: callers cannot reach it, or stopped calling.",
                runbook=(
                    "Call /healthz and /readyz through the public endpoint; if they fail, check the load balancer, its listeners and the DNS name callers use.",
                    "Check the running instance count; zero means the service cannot start (image pull, task role, model load).",
                    "Ask the calling systems whether they are sending; an upstream outage looks the same from here.",
                ),
                prod_only=True,
            ))
    if "training" in caps:
        metrics.append(DRIFT)
        alarms.append(Alarm(
            key="feature_drift", title="input data drifted from the training data", metric=DRIFT.name,
            statistic="max", comparison="above", threshold=PSI_THRESHOLD, unit="PSI", period_s=86400,
            evaluation_periods=1, missing_data="breaching",
            missing_reason="the drift job publishes daily; no value means the job failed and drift is unknown",
            derived_from=f"population stability index above {_fmt(PSI_THRESHOLD)} is a material shift",
            meaning="The newest data no longer looks like what the serving model was trained on, or the daily drift job did not run.",
            runbook=(
                "Open the latest run of the drift workflow: a failed run (no approved model yet, no data, no access) is fixed there first.",
                "Its summary lists the PSI per feature; check the shifted features' upstream sources for a change of meaning or a broken feed.",
                "If the shift is real, retrain (retrain.yml) and promote the new run if it passes its evaluation gate (promote.yml).",
            ),
            prod_only=True,
        ))
    if failures:
        for metric, alarm in (_failure_alarm(failures), _lag_alarm(failures, stream_kafka, events)):
            metrics.append(metric)
            alarms.append(alarm)
    if known := tuple(j for j in SCHEDULED_JOBS if j in jobs):
        metrics.append(FAILED_RUNS)
        alarms.append(_job_alarm(known))
    return MetricTable(metrics=tuple(metrics), alarms=tuple(alarms), sample_every=sample_every)
