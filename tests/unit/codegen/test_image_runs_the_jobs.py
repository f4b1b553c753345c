"""The batch and stream jobs the infrastructure starts from the service image are in that image."""

from __future__ import annotations

import re

from amp_contracts import ConstraintSchema, Plan
from amp_domain.catalog import CLOUDS, load_catalog

from services.codegen.render import render_repository
from services.codegen.render_text import TEMPLATES
from tests.unit.codegen.conftest import comp, inputs_for

_JOB = re.compile(r"\bpipelines\.([a-z_]+)")


def test_every_job_the_infrastructure_starts_is_copied_into_the_image(rendered):
    checked = 0
    for name, files in rendered.items():
        infra = "\n".join(t for p, t in files.items() if p.startswith("infra/") and p.endswith(".tf"))
        jobs = set(_JOB.findall(infra))
        dockerfile = files["services/serving/Dockerfile"]
        for job in jobs:
            assert f"pipelines/{job}.py" in files, f"{name}: infra starts pipelines.{job}, which is not generated"
            checked += 1
        # The image carries the generated jobs (whether the plan's infrastructure starts them or not).
        assert ("COPY pipelines ./pipelines" in dockerfile) == ("pipelines/__init__.py" in files), name
        assert "pipelines" not in files.get(".dockerignore", "").split(), name
    assert checked, "some fixture plan runs a job"


def test_a_lambda_stream_consumer_reaches_the_runtime_api_and_the_registry(rendered):
    files = rendered["aws_streaming_serverless"]
    consumer = files["infra/modules/stream_processing/main.tf"]
    assert 'entry_point = ["python", "-m", "awslambdaric"]' in consumer
    assert 'command     = ["pipelines.stream_consumer.handler"]' in consumer
    assert "MODEL_URI  = local.model_uri" in consumer and '"s3:GetObject"' in consumer
    assert '"awslambdaric>=2.2"' in files["services/serving/Dockerfile"]
    # Plans without such a consumer do not carry the package.
    for name, other in rendered.items():
        if "awslambdaric" not in other.get("infra/modules/stream_processing/main.tf", ""):
            assert "awslambdaric" not in other["services/serving/Dockerfile"], name


def test_the_batch_job_is_told_where_to_read_score_and_write(rendered):
    """The scheduled job runs the scoring entry point with the locations the script reads."""
    checked = []
    for name, files in rendered.items():
        job = files.get("infra/modules/serving_batch/main.tf")
        if job is None:
            continue
        script = files["pipelines/batch_score.py"]
        assert "pipelines.batch_score" in job, name
        for variable in ("MODEL_URI", "BATCH_INPUT_URI", "BATCH_OUTPUT_URI"):
            assert variable in job, f"{name}: the job does not set {variable}"
        assert 'os.environ.get("BATCH_INPUT_URI"' in script and 'os.environ.get("BATCH_OUTPUT_URI"' in script
        assert "storage.read_bytes(" in script and "storage.write_bytes(" in script, "object-store URIs work"
        checked.append(name.split("_")[0])
    assert {"aws", "gcp", "azure"} <= set(checked)
    azure = rendered["azure_batch_serverless"]["infra/modules/serving_batch/main.tf"]
    assert "identity = azurerm_user_assigned_identity.batch.id" in azure and '"AcrPull"' in azure
    assert '"Storage Blob Data Contributor"' in azure


def test_a_stream_consumer_keeps_its_scores_in_the_lake_it_may_write(rendered):
    """Scores returned to Lambda's event source or to a Pub/Sub push are dropped: the consumer
    writes them under the lake's scores/stream/ prefix, which its identity may write."""
    aws = rendered["aws_streaming_serverless"]["infra/modules/stream_processing/main.tf"]
    assert 'scores_uri    = "s3://${local.scores_bucket}/scores/stream"' in aws
    assert "SCORES_URI = local.scores_uri" in aws
    assert '"arn:${data.aws_partition.current.partition}:s3:::${local.scores_bucket}/scores/stream/*"' in aws and '"s3:PutObject"' in aws
    assert '"kms:GenerateDataKey"' in aws, "the lake is encrypted with the project key when one is planned"
    gcp = rendered["gcp_streaming"]["infra/modules/stream_processing/main.tf"]
    for variable in ("MODEL_URI", "SCORES_URI"):
        assert f'name  = "{variable}"' in gcp, f"the Cloud Run consumer is not given {variable}"
    assert 'role   = "roles/storage.objectViewer"' in gcp and 'role   = "roles/storage.objectUser"' in gcp
    for name in ("aws_streaming_serverless", "gcp_streaming"):
        consumer = rendered[name]["pipelines/stream_consumer.py"]
        assert 'os.environ.get("SCORES_URI")' in consumer and "storage.write_bytes(" in consumer


_DATA_URI = re.compile(r'data_uri\s*=\s*"(?:s3|gs)://\$\{local\.bucket\}/([a-z_]+)"'
                       r'|output "data_uri" \{[^}]*abfs://([a-z_]+)@')
_CI_DATA_URI = re.compile(r"data_uri=(?:s3|gs|abfs)://(?:\$bucket/)?([a-z_]+)")


def test_every_trainer_reads_the_zone_the_lake_has(rendered):
    """The scheduled orchestrator, retrain.yml and the drift job read the same prefix of the lake,
    one of the zones its storage module creates."""
    checked = set()
    for name, files in rendered.items():
        storage = files.get("infra/modules/storage/outputs.tf", "")
        if not storage:
            continue
        zones = set(re.findall(r"\b(raw|features|models|scores|training)\b", storage))
        read = set()
        for path in ("infra/modules/orchestration/main.tf", "infra/modules/storage/outputs.tf"):
            read |= {a or b for a, b in _DATA_URI.findall(files.get(path, ""))}
        for workflow in ("retrain", "drift", "promote"):
            read |= set(_CI_DATA_URI.findall(files.get(f".github/workflows/{workflow}.yml", "")))
        assert read == {"raw"}, f"{name}: training data is read from {sorted(read)}"
        assert "raw" in zones, name
        checked.add(name.split("_")[0])
    assert checked == {"aws", "gcp", "azure"}


def test_the_glue_job_copies_deliveries_into_the_zone_training_reads(rendered):
    """The Glue job's script and the modules it imports are uploaded where the job looks for
    them, it is started every night, and it writes where training reads."""
    for name in ("aws_online_pci", "aws_full"):
        files = rendered[name]
        glue = files["infra/modules/ingest_batch/main.tf"]
        script = re.search(r'script_location = "s3://\$\{local\.bucket\}/(code/[a-z_]+\.py)"', glue)
        libs = re.search(r'"--extra-py-files" = "s3://\$\{local\.bucket\}/(code/[a-z_-]+\.zip)"', glue)
        assert script and libs, name
        deploy = files[".github/workflows/deploy.yml"]
        assert f'aws s3 cp "../pipelines/ingest.py" "s3://$bucket/{script.group(1)}"' in deploy, name
        assert f'"s3://$bucket/{libs.group(1)}"' in deploy and "services/common" in deploy, name
        assert 'aws_glue_trigger" "nightly"' in glue and "job_name = aws_glue_job.ingest.name" in glue
        assert '"--SOURCE_URI"     = "s3://${local.bucket}/landing"' in glue
        assert '"--TARGET_URI"     = "s3://${local.bucket}/raw"' in glue
        assert '"arn:${data.aws_partition.current.partition}:s3:::${local.bucket}/raw/*"' in glue and '"s3:PutObject"' in glue
        ingest = files["pipelines/ingest.py"]
        assert '"--SOURCE_URI"' in ingest and '"--TARGET_URI"' in ingest, "Glue's argument names are read"
    # Plans without a Glue job upload nothing.
    assert "ingest_job.py" not in rendered["aws_streaming_serverless"][".github/workflows/deploy.yml"]


def test_a_batch_ingest_job_runs_the_ingest_entry_point(plans):
    """On AWS Batch the ingest job ran the image's default command, the API, for hours."""
    plan = Plan(cloud="aws", regions=["us-east-1"], components=[
        comp("aws", "storage", "s3-lake", service="s3"),
        comp("aws", "networking_private", "vpc-privatelink", service="vpc"),
        comp("aws", "ingest_batch", "batch-fargate", service="batch", deployment="containers",
             sizing={"vcpu": 4, "mem_gb": 8}),
        comp("aws", "training", "sagemaker-training", service="sagemaker"),
    ])
    _, constraints = plans["aws_full"]()
    files = render_repository(plan, constraints, *inputs_for(plan), "Ingest on Batch", "Nightly OCR batch.")
    job = files["infra/modules/ingest_batch/main.tf"]
    assert 'ingest_batch  = ["python", "-m", "pipelines.ingest"]' in job
    assert "command = lookup(local.job_command, basename(path.module), null)" in job
    assert '{ name = "INGEST_SOURCE_URI", value = "s3://${local.bucket}/landing" }' in job
    assert '{ name = "INGEST_TARGET_URI", value = "s3://${local.bucket}/raw" }' in job
    assert "pipelines/ingest.py" in files and "COPY pipelines ./pipelines" in files["services/serving/Dockerfile"]
    assert 'os.environ.get("INGEST_SOURCE_URI"' in files["pipelines/ingest.py"]


#: How the infrastructure runs the ingest code: a container's command, or Glue's uploaded script.
_RUNS_INGEST = re.compile(r'"pipelines\.ingest"|/code/ingest_job\.py"')


def test_ingestion_is_code_of_ours_only_where_a_job_runs_it(rendered):
    ran = set()
    for name, files in rendered.items():
        runs_it = any(_RUNS_INGEST.search(t) for p, t in files.items() if p.startswith("infra/modules/"))
        assert ("pipelines/ingest.py" in files) == runs_it, name
        ran |= {name.split("_")[0]} if runs_it else set()
    assert ran == {"aws", "gcp"}  # Azure's Data Factory copies with its own activities


def test_the_google_cloud_ingest_job_runs_nightly_before_training_as_its_own_invoker(rendered):
    """Deliveries on Google Cloud were written to raw/ directly, unchecked: a nightly Cloud Run job
    now runs the ingest entry point from the service image, as AWS's Glue job does."""
    files = rendered["gcp_batch_serverless"]
    ingest = files["infra/modules/ingest_batch/main.tf"]
    job = ingest.split('resource "google_cloud_run_v2_job" "ingest"', 1)[1].split("\n}\n", 1)[0]
    assert 'command = ["python", "-m", "pipelines.ingest"]' in job and "image   = var.container_image" in job
    assert 'value = "gs://${local.bucket}/landing"' in job and 'value = "gs://${local.bucket}/raw"' in job
    scheduler = ingest.split('resource "google_cloud_scheduler_job" "ingest"', 1)[1]
    assert 'schedule         = "0 1 * * *"' in scheduler  # before training and the 04:00 batch scoring
    assert "/jobs/${google_cloud_run_v2_job.ingest.name}:run" in scheduler
    grant = ingest.split('resource "google_cloud_run_v2_job_iam_member" "ingest_scheduler"', 1)[1].split("\n}\n", 1)[0]
    assert 'role     = "roles/run.invoker"' in grant and "google_cloud_run_v2_job.ingest.name" in grant
    assert "COPY pipelines ./pipelines" in files["services/serving/Dockerfile"]
    assert "`landing/`" in files["README.md"]


_ZONE_ROW = re.compile(r"^\| `([^`]+)` \|", re.MULTILINE)


def test_the_readme_says_where_each_job_reads_and_writes(rendered):
    """Each zone the README names is one the generated infrastructure or code uses."""
    for name, files in rendered.items():
        readme = files["README.md"]
        if "infra/modules/storage/main.tf" not in files:
            assert "### Where the data lives" not in readme, name
            continue
        section = readme.split("### Where the data lives", 1)[1].split("\n## ", 1)[0]
        zones = _ZONE_ROW.findall(section)
        assert zones[0] == "raw/" and zones[-1] == "models/", name
        used = "\n".join(t for p, t in files.items() if p.startswith(("infra/", "pipelines/", ".github/")))
        for zone in zones:
            for part in zone.split(" → "):
                prefix = part.split("/dt=")[0].rstrip("/")
                assert re.search(rf"[/@]{re.escape(prefix.split('/')[0])}\b", used), f"{name}: {zone}"
        assert ("landing/" in zones) == ("pipelines/ingest.py" in files), name
        infra = "\n".join(t for p, t in files.items() if p.startswith(("infra/", ".github/")))
        consumer = "pipelines.stream_consumer" in infra
        assert any(z.startswith("scores/stream") for z in zones) == consumer, name
    readme = rendered["gcp_streaming"]["README.md"]
    assert "| `scores/stream/dt=<date>/` |" in readme, "the Cloud Run consumer writes stream scores"


def test_a_lambda_consumer_reads_the_msk_topic_its_producers_write(rendered):
    """On MSK the event source mapping needs the topic, takes no Kinesis-only retry settings,
    and the function authenticates to the cluster with IAM; on Kinesis none of that applies."""
    msk = rendered["aws_streaming_serverless"]
    root = msk["infra/main.tf"]
    assert "stream_topic       = module.ingest_stream.topic" in root and "wired_stream_topic = true" in root
    topic = re.search(r'output "topic" \{[^}]*value\s*=\s*"([a-z-]+)"', msk["infra/modules/ingest_stream/main.tf"]
                      + msk["infra/modules/ingest_stream/outputs.tf"])
    assert topic, "the MSK module says which topic carries the events"
    assert "auto.create.topics.enable = true" in msk["infra/modules/ingest_stream/main.tf"]
    consumer = msk["infra/modules/stream_processing/main.tf"]
    assert "topics                             = var.wired_stream_topic ? [var.stream_topic] : null" in consumer
    assert "bisect_batch_on_function_error     = var.wired_stream_topic ? null : true" in consumer
    assert "AWSLambdaMSKExecutionRole" in consumer and '"kafka-cluster:ReadData"' in consumer
    kinesis = rendered["aws_full"]
    assert "stream_topic" not in kinesis["infra/main.tf"], "a Kinesis stream has no topic to wire"
    code = msk["pipelines/stream_consumer.py"]
    assert 'event.get("records", {})' in code and '"Records" in event' in code, "both event shapes are read"


def _flink_plan(source: str, *extra) -> dict[str, str]:
    plan = Plan(cloud="aws", regions=["eu-west-1"], components=[
        *extra,
        comp("aws", "security_kms", "kms", service="kms"),
        comp("aws", "networking_private", "vpc-privatelink", service="vpc"),
        comp("aws", "storage", "s3-lake", service="s3"),
        comp("aws", "ingest_stream", source, service="kinesis"),
        comp("aws", "stream_processing", "managed-flink", service="kinesis-analytics", sizing={"kpu": 2}),
        comp("aws", "registry", "sagemaker-model-registry", service="sagemaker"),
    ])
    return render_repository(plan, ConstraintSchema(cloud="aws"), *inputs_for(plan), "Flink", "Score a stream.")


def test_the_flink_application_is_ready_for_the_teams_job():
    """The job is the team's (a review risk says so); the application gives it where to read and
    write, and the permissions and network to do it, for a Kinesis stream and for an MSK topic."""
    for source, reads in (("kinesis-data-streams", '"kinesis:GetRecords"'), ("msk", '"kafka-cluster:ReadData"')):
        files = _flink_plan(source)
        app = files["infra/modules/stream_processing/main.tf"]
        for key in ("stream.arn", "stream.topic", "bootstrap.brokers", "model.uri", "scores.uri"):
            assert f'"{key}"' in app, f"{source}: the job is not told {key}"
        assert reads in app, source
        other = '"kafka-cluster:ReadData"' if source != "msk" else '"kinesis:GetRecords"'
        assert f"var.wired_stream_{'topic' if source != 'msk' else 'arn'}" in app and other in app
        root = files["infra/main.tf"]
        assert 'dynamic "vpc_configuration"' in app and re.search(r"wired_subnet_ids\s+= true", root)
        assert bool(re.search(r"wired_stream_topic\s+= true", root)) == (source == "msk"), source
        guide = files["docs/README.md"]
        assert "- `stream_processing` (Managed Service for Apache Flink" in guide, "the guide says the job is the team's"


def test_a_batch_the_consumer_cannot_score_is_recorded_not_lost(rendered):
    """After its retries a failed batch went nowhere: the mapping now names an on-failure queue
    the function may send to, for Kinesis and MSK alike."""
    for name in ("aws_streaming_serverless", "aws_full"):
        consumer = rendered[name]["infra/modules/stream_processing/main.tf"]
        assert "destination_arn = aws_sqs_queue.failed.arn" in consumer, name
        assert '"sqs:SendMessage"' in consumer and "Resource = aws_sqs_queue.failed.arn" in consumer, name
        assert "kms_master_key_id                 = var.kms_key_arn" in consumer, name


def test_failed_batches_can_be_replayed_where_they_are_recorded(rendered):
    """Where the infrastructure records failed stream batches on a queue, the repository has the
    job that scores them again and the guide names the queue's output; elsewhere neither."""
    seen = 0
    for name, files in rendered.items():
        outputs = re.findall(r'^output "([a-z_]+_failed_batches_queue_url)"', files["infra/outputs.tf"], re.M)
        assert ("pipelines/replay_failed.py" in files) == bool(outputs), name
        if outputs:
            assert f"output -raw {outputs[0]})" in files["docs/README.md"], name
            assert "python -m pipelines.replay_failed" in files["docs/README.md"], name
            seen += 1
    assert seen


def test_an_event_the_push_consumer_keeps_failing_on_is_dead_lettered_and_kept(rendered):
    """Pub/Sub dropped an event its consumer kept failing on when the retention ran out; the
    stream's dead-letter topic existed, unused and without a subscription to keep anything."""
    files = rendered["gcp_streaming"]
    consumer = files["infra/modules/stream_processing/main.tf"]
    assert 'dynamic "dead_letter_policy"' in consumer and "max_delivery_attempts = 10" in consumer
    assert re.search(r"wired_dead_letter_topic_id\s+= true", files["infra/main.tf"])
    for grant in ('google_pubsub_topic_iam_member" "dead_letter"', 'google_pubsub_subscription_iam_member" "dead_letter"'):
        assert grant in consumer, "Pub/Sub's service agent may move the events"
    assert "gcp-sa-pubsub.iam.gserviceaccount.com" in consumer
    stream = files["infra/modules/ingest_stream/main.tf"]
    assert 'resource "google_pubsub_subscription" "dead_letter"' in stream
    assert "topic                      = google_pubsub_topic.dead_letter.id" in stream


def test_someone_is_told_when_the_stream_consumer_gives_up(rendered):
    """Failed batches and dead letters were kept, but nothing watched them: a consumer failing on
    every event (no approved model, the registry unreachable) went unnoticed until the store's
    retention dropped them. Where a failure store exists, the monitoring module alarms on its depth
    (wired from the module that owns it) and the runbook says how to look and replay; elsewhere,
    as with the Flink job's own handling, there is no such alarm."""
    seen = set()
    flink = _flink_plan("kinesis-data-streams", comp("aws", "monitoring", "cloudwatch", service="cloudwatch"))
    for name, files in [*rendered.items(), ("flink", flink)]:
        if "infra/modules/monitoring/main.tf" not in files:
            continue
        stores = re.findall(r'^output "([a-z_]+_(?:failed_batches_queue_url|dead_letter_subscription))"',
                            files["infra/outputs.tf"], re.M)
        consumer = "infra/modules/stream_processing/main.tf" in files
        alarmed = '"stream_failures"' in files["infra/modules/monitoring/main.tf"]
        assert alarmed == bool(stores and consumer), name
        if not alarmed:
            assert "## stream-failures" not in files["docs/runbook.md"], name
            continue
        watched = "failed_batches_queue_name" if stores[0].endswith("_url") else "dead_letter_subscription"
        consumer_in = "stream_consumer_function" if stores[0].endswith("_url") else "consumer_subscription"
        assert '"stream_lag"' in files["infra/modules/monitoring/main.tf"], f"{name}: nobody sees the consumer lag"
        assert re.search(rf"\n  wired_{consumer_in}\s+= true\n", files["infra/main.tf"]), name
        monitoring = re.search(r'module "monitoring" \{.*?\n\}', files["infra/main.tf"], re.S).group(0)
        assert re.search(rf"\n  wired_{watched}\s+= true\n", monitoring), name
        assert re.search(rf"\n  {watched}\s+= module\.(stream_processing|ingest_stream)\.{watched}\n", monitoring), name
        assert f"count = var.wired_{watched} ? 1 : 0" in re.sub(r" +", " ", files["infra/modules/monitoring/main.tf"])
        runbook = files["docs/runbook.md"]
        entry = runbook[runbook.index("## stream-failures"):]
        assert f"output -raw {stores[0]})" in entry, name
        seen.add(files["infra/modules/monitoring/main.tf"].count("AWS/SQS") and "aws" or "gcp")
    assert seen == {"aws", "gcp"}


#: What starts a job on a schedule, per cloud's resources.
_SCHEDULERS = ("aws_scheduler_schedule", "aws_glue_trigger", "google_cloud_scheduler_job",
               "schedule_trigger_config", "azurerm_data_factory_trigger_schedule")


def test_every_scheduled_job_that_is_built_is_started():
    """The Cloud Run batch scoring job was built and priced as a nightly run, yet nothing ran it.
    Every buildable pattern of a capability that runs on a schedule starts itself, unless the
    catalog says that what it runs is the team's to write."""
    checked = 0
    for cloud in CLOUDS:
        for pattern in load_catalog(cloud).patterns:
            if not pattern.buildable or pattern.team_code or pattern.capability not in ("serving_batch", "orchestration"):
                continue
            module = (TEMPLATES / "terraform" / cloud / "modules" / f"{pattern.module}.tf").read_text(encoding="utf-8")
            assert any(s in module for s in _SCHEDULERS), f"{pattern.id}: nothing starts it"
            checked += 1
    assert checked >= 6


def test_the_stand_in_batch_scorers_are_started_too(rendered):
    """The generic batch scoring templates stand in where no pattern's module fits; the AWS one, a
    Lambda function, said in its checkov skip that a scheduler retried it, and nothing started it."""
    for cloud in CLOUDS:
        module = (TEMPLATES / "terraform" / cloud / "modules" / "serving_batch.tf").read_text(encoding="utf-8")
        assert any(s in module for s in _SCHEDULERS), f"{cloud}: nothing starts the batch scorer"
    batch = rendered["aws_full"]["infra/modules/serving_batch/main.tf"]
    schedule = batch.split('resource "aws_scheduler_schedule" "scheduled"', 1)[1]
    assert "arn      = aws_lambda_function.batch.arn" in schedule and "maximum_retry_attempts = 2" in schedule
    assert '"lambda:InvokeFunction"' in batch and "aws_lambda_function.batch.arn" in batch


def test_the_batch_scoring_job_on_cloud_run_runs_on_schedule_as_its_own_invoker(rendered):
    batch = rendered["gcp_batch_serverless"]["infra/modules/serving_batch/main.tf"]
    scheduler = batch.split('resource "google_cloud_scheduler_job" "scheduled"', 1)[1]
    assert "/jobs/${google_cloud_run_v2_job.batch.name}:run" in scheduler
    assert "service_account_email = google_service_account.scheduler.email" in scheduler
    grant = batch.split('resource "google_cloud_run_v2_job_iam_member" "scheduler"', 1)[1].split("\n}\n", 1)[0]
    assert 'role     = "roles/run.invoker"' in grant and "google_cloud_run_v2_job.batch.name" in grant


def test_the_alarms_topic_takes_failed_job_runs(rendered):
    """The rule's events reach the on-call only if EventBridge may publish to the topic and use its key."""
    files = rendered["aws_full"]
    monitoring = files["infra/modules/monitoring/main.tf"]
    assert 'resource "aws_cloudwatch_event_rule" "job_failed"' in monitoring
    assert 'resource "aws_sns_topic_policy" "alerts"' in monitoring
    key = monitoring.split('sid       = "AlarmsAndEventsPublish"', 1)[1].split("}\n  }\n", 1)[0]
    topic = monitoring.split('sid       = "EventsPublish"', 1)[1].split("}\n  }\n", 1)[0]
    for statement in (key, topic):
        assert 'identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]' in statement or \
            'identifiers = ["events.amazonaws.com"]' in statement
    assert '"sns:Publish"' in topic and '"kms:GenerateDataKey*"' in key
    ingest = files.get("pipelines/ingest.py", "")
    assert "the alarm on failed jobs fires" in ingest and "job_failed" in monitoring


#: What names a kind of scheduled job in the monitoring module's failed-run alarm, per resource type.
_WATCHED_BY = {
    "aws_sfn_state_machine": '"detail-type" = ["Step Functions Execution Status Change"]',
    "aws_glue_job": '"detail-type" = ["Glue Job State Change"]',
    "aws_batch_job_definition": '"detail-type" = ["Batch Job State Change"]',
    "google_workflows_workflow": "workflows.googleapis.com/finished_execution_count",
    "google_cloud_run_v2_job": "run.googleapis.com/job/completed_execution_count",
    "azurerm_data_factory_pipeline": '"PipelineFailedRuns"',
    "azurerm_container_app_job": '"Executions"',
}


def test_every_scheduled_job_the_plan_builds_has_its_failed_runs_watched(rendered):
    from services.codegen.metric_table import SCHEDULED_JOBS

    assert set(_WATCHED_BY) == set(SCHEDULED_JOBS)
    batch_plan = Plan(cloud="aws", regions=["eu-west-1"], components=[
        comp("aws", "networking_private", "vpc-privatelink", service="vpc"),
        comp("aws", "storage", "s3-lake", service="s3"),
        comp("aws", "serving_batch", "batch-fargate", service="batch", sizing={"vcpu": 4, "mem_gb": 16}),
        comp("aws", "monitoring", "cloudwatch", service="cloudwatch"),
    ])
    batch = render_repository(batch_plan, ConstraintSchema(cloud="aws"), *inputs_for(batch_plan), "Batch", "Score nightly.")
    seen = set()
    for name, files in [*rendered.items(), ("aws_batch", batch)]:
        monitoring = files.get("infra/modules/monitoring/main.tf")
        if monitoring is None:
            continue
        built = set(re.findall(r'^resource "([a-z0-9_]+)"', "".join(
            t for p, t in files.items() if p.startswith("infra/modules/") and not p.startswith("infra/modules/monitoring/")),
            re.M))
        for job in built & set(SCHEDULED_JOBS):
            assert _WATCHED_BY[job] in monitoring, (name, job)
            seen.add(job)
    assert seen == set(SCHEDULED_JOBS), set(SCHEDULED_JOBS) - seen
