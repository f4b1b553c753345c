"""The two READMEs: the repository front page and the step-by-step deployment guide."""

from __future__ import annotations

import json
import textwrap

from amp_contracts import ConstraintSchema, Plan
from amp_domain.build import DEFAULT_CADENCE, team_work
from amp_domain.catalog import load_catalog
from amp_domain.compliance import data_stays_in_scope

from .airflow_dag import airflow_orchestrated, deploy_section
from .metric_table import DEAD_LETTERS, pull_dead_letters, replay_failed
from .render_docs import CLOUD_TITLES
from .render_domain import LOWER_IS_BETTER, Domain, example_row
from .render_kubernetes import CLUSTER_VARIABLES
from .render_kubernetes import deploy_section as cluster_section
from .render_text import fill, md_cell, md_inline
from .serving_access import ServingAccess

_CLOUD = {
    "aws": {
        "cli": "AWS", "identity_kind": "IAM roles, an OIDC provider, an S3 bucket and an ECR repository",
        "bootstrap": '-var "github_repository=<owner>/<repo>"',
        "variables": [("AWS_ACCOUNT_ID", "the account (output `account_id` of the bootstrap)")],
    },
    "gcp": {
        "cli": "gcloud", "identity_kind": "service accounts, a workload identity pool, a bucket and a repository, "
        "and to enable APIs (roles/serviceusage.serviceUsageAdmin)",
        "bootstrap": '-var "project_id=<project>" -var "github_repository=<owner>/<repo>"',
        "variables": [("GCP_CI_PROJECT_ID", "project the bootstrap was applied to"),
                      ("GCP_CI_PROJECT_NUMBER", "its project number (for the workload identity provider)"),
                      ("GCP_PROJECT_ID", "project of the environments' resources")],
    },
    "azure": {
        "cli": "Azure (az)", "identity_kind": "managed identities, role assignments, a storage account and a registry",
        "bootstrap": '-var "github_repository=<owner>/<repo>"',
        "variables": [("AZURE_TENANT_ID", "Entra tenant id"), ("AZURE_SUBSCRIPTION_ID", "target subscription id"),
                      ("AZURE_CLIENT_ID", "on each environment (dev, staging, prod, drift): its identity's client "
                       "id (outputs `deploy_client_ids`; drift: the `-drift-github-monitor` identity)"),
                      ("AZURE_PLAN_CLIENT_ID_DEV, _STAGING, _PROD", "repository variables: output `plan_client_ids`")],
    },
}
#: The stream a plan reusing the team's stream consumes, by the pattern that reuses it.
_REUSED_STREAMS = {
    "aws:ingest_stream:kinesis-existing": (
        "KINESIS_STREAM_NAME", "name of your existing Kinesis data stream, in each environment's account and "
        "region; if its key is your own, let the consumer's role decrypt with it"),
    "azure:ingest_stream:event-hubs-existing": (
        "EVENTHUB_ID", "resource id of your existing event hub (`/subscriptions/<id>/resourceGroups/<group>/providers/"
        "Microsoft.EventHub/namespaces/<namespace>/eventhubs/<hub>`), in each environment's subscription; the stream "
        "job gets a consumer group of its own there and the Azure Event Hubs Data Receiver role on the hub, so the "
        "environment's deploy identity must be allowed to create both; if the namespace refuses other networks, "
        "allow trusted Azure services"),
    "gcp:ingest_stream:pubsub-existing": (
        "PUBSUB_TOPIC", "id of your existing Pub/Sub topic (`projects/<project>/topics/<topic>`) for each "
        "environment; the stream consumer subscribes to it, so where the topic is in another project, grant the "
        "environment's deploy account `roles/pubsub.viewer` and `roles/pubsub.subscriber` on it (reading it and "
        "attaching a subscription)"),
}
_COMMON_VARIABLES = [("ALERT_EMAIL", "address every alarm notifies (an on-call list)"),
                     ("LOAD_TEST_RPS, LOAD_TEST_DURATION", "optional: override the load test's rate and length"),
                     ("SERVICE_URL", "per environment, only when the infrastructure exposes no endpoint output")]


def _training_runner(scope: str | None) -> tuple[str, str]:
    """Where the jobs that read the environment's data (retraining, the drift check) run."""
    if scope is None:
        return ("TRAINING_RUNNER", "optional: a self-hosted runner label for retraining and the drift check "
                                  "inside the network")
    return ("TRAINING_RUNNER", f"required: the data is held inside the team's network by {scope}, so "
                              "retraining and the drift check read it only on a self-hosted runner there and stop "
                              "with this instruction until this label names one")


_LAYOUT = (
    ("infra/bootstrap/", "Terraform applied once per account: state, OIDC trust, image repository, CI identities"),
    ("infra/", "Terraform per environment: root module, `modules/<capability>`, `environments/<env>.tfvars`"),
    ("services/training/", "Training job: data loading, split, metrics, evaluation gate, registration; its image"),
    ("services/serving/", "FastAPI inference API with `/healthz`, `/readyz`, `/predict`; loads the approved model"),
    ("services/drift/", "Drift job: PSI and KS per feature against the training data"),
    ("services/common/", "Model format, the feature/label contract, storage URIs, the model registry, metrics the alarms watch"),
    ("config/training.toml", "Split, evaluation-gate thresholds, decision point and drift limits"),
    ("pipelines/", "Batch and stream scoring entry points"),
    ("deploy/kubernetes/", "The inference API's manifests for your Kubernetes cluster, applied by deploy.yml (see docs/README.md)"),
    ("dags/", "The Airflow DAG that starts retraining, for your Airflow's DAG folder (see docs/README.md)"),
    ("features/", "Feature definitions shared with the feature store"),
    ("data/sample.csv", "Synthetic, deterministic sample data for local runs and tests (the schema of real data)"),
    (".github/workflows/", "CI with plans, promotion by digest dev, staging, prod; retrain, promote, drift"),
    ("tests/load/", "k6 load test at the stated rate and p95 latency (run after staging)"),
    ("docs/", "Deployment guide, runbook (one entry per alarm), architecture, design rationale, ADRs, compliance notes"),
    ("reports/", "Cost and policy results of the approved plan"),
)


def readme_md(project: str, plan: Plan, domain: Domain, paths: set[str],
              started: frozenset[str] | set[str] = frozenset()) -> str:
    """The front page. `started` names the jobs of pipelines/ that the infrastructure runs."""
    comps = ", ".join(c.capability for c in plan.components)
    summary = (f"A {md_inline(domain.title)} system on {CLOUD_TITLES.get(plan.cloud, plan.cloud)} "
               f"({md_inline(', '.join(plan.regions))}) with these capabilities: {md_inline(comps)}.")
    layout = "\n".join(f"| `{p}` | {what} |" for p, what in _LAYOUT  # our own Markdown, not user text
                       if any(x.startswith(p) for x in paths))
    return fill("docs/README.md", project=md_inline(project), summary=summary, layout=layout,
                example=json.dumps(example_row(domain)),
                model_section=model_md(domain) + data_md(plan, started))


def data_md(plan: Plan, started: frozenset[str] | set[str]) -> str:
    """Where the data lives: each zone of the lake the generated code reads or writes, and who does."""
    if plan.component("storage") is None:
        return ""
    where = "containers of the storage account" if plan.cloud == "azure" else "prefixes of the data lake bucket"
    readers = ("The scheduled training, `retrain.yml` and the drift job"
               if plan.component("orchestration") else "`retrain.yml` and the drift job")
    rows = [("raw/", f"Training data: CSV files with the columns above. {readers} read every CSV under it. Rows "
                     "training cannot use are set aside and counted; above `[data] max_rejected_fraction` the "
                     "run fails.")]
    if "ingest" in started:
        rows.append(("landing/", "Deliveries (a partner's drop, an export). Every night the ingest job "
                                 "(`pipelines/ingest.py`) copies each new CSV whose header has the schema's columns "
                                 "into `raw/` under the same name, once; a file without them is reported and fails "
                                 "the job."))
    if "batch_score" in started:
        source = "scores/input/latest.csv" if plan.cloud == "azure" else "features/latest.csv"
        rows.append((f"{source} → scores/latest.csv", "Batch scoring: the scheduled job (at `score_schedule`, "
                                                      "the plan's scoring cadence) scores the rows of the first "
                                                      "and writes them, with `score` and `prediction`, to the "
                                                      "second."))
    if "stream_consumer" in started:
        rows.append(("scores/stream/dt=<date>/", "Stream scores from the consumer (`pipelines/stream_consumer.py`): "
                                                 "one JSON-lines file per delivery, named after it, so a "
                                                 "redelivery rewrites its own file."))
    rows.append(("models/", "The model registry (`MODEL_URI`): versions and `approved.json`."))
    table = "\n".join(f"| `{zone}` | {what} |" for zone, what in rows)
    return f"""

### Where the data lives

The zones below are {where} (Terraform output `storage_*`).

| Zone | What |
|---|---|
{table}"""


_TASK_WORDS = {
    "binary": "a yes/no score (probability of `{label}`), decided at a threshold",
    "regression": "a number (`{label}`)",
    "ranking": "a ranking score per candidate (graded `{label}`, grouped by `{group}`)",
    "multiclass": "one of the classes of `{label}` ({classes})",
}
_METRIC_WORDS = {
    "pr_auc": "PR-AUC", "recall_at_fpr": "recall at {fpr:g} % false positives", "roc_auc": "ROC-AUC",
    "log_loss": "log loss", "ks": "KS statistic", "mape": "MAPE", "rmse": "RMSE", "mae": "MAE",
    "ndcg_at_10": "NDCG@10", "mrr": "MRR", "macro_f1": "macro F1", "accuracy": "accuracy",
}


def model_md(domain: Domain) -> str:
    """The model section: what is predicted, from what, how it is judged, and the training loop."""
    task = _TASK_WORDS[domain.task].format(label=domain.label, group=domain.group,
                                           classes=", ".join(f"`{c}`" for c in domain.classes))
    named = (" (a generic template: no built-in domain matched the requirement, so the feature names are "
             "placeholders to rename)" if domain.key == "generic" else "")
    def words(metric: str) -> str:
        return _METRIC_WORDS.get(metric, metric).format(fpr=domain.target_fpr * 100)

    gate = ", ".join(f"{words(m)} {'≤' if m in LOWER_IS_BETTER else '≥'} {v:g}" for m, v in domain.gate)
    imbalance = (f" The sample has about {domain.positive_rate:.0%} positives, as the real data will."
                 if domain.task == "binary" and domain.positive_rate <= 0.1 else "")
    features = "\n".join(f"| `{f.name}` | {md_cell(f.description)} | {f.low:g} – {f.high:g} |" for f in domain.features)
    return f"""## The model

{md_inline(domain.title[:1].upper() + domain.title[1:])}{named}: each `{domain.entity}` gets {task}.{imbalance}

| Feature | Meaning | Valid range |
|---|---|---|
{features}

- **Split**: {md_inline(domain.split_why)} (`[split]` in `config/training.toml`).
- **Metrics**: {", ".join(words(m) for m in domain.metrics)} on the holdout.
- **Evaluation gate**: {gate}. A run below any threshold exits non-zero and registers nothing;
  the thresholds live in `config/training.toml`, reviewed like code.

### The training loop

The training job (`python -m services.training.train`, image `services/training/Dockerfile`)
reads its inputs from the environment:

| Variable | What |
|---|---|
| `DATA_URI` | prefix of the training data in the planned storage (`s3://`, `gs://`, `az://` or a local path): every CSV under it |
| `MODEL_URI` | registry prefix: each run writes `<version>/model.json`, `metadata.json` (metrics, gate, data and code versions) and `reference.json` (feature profile for drift) |
| `RUN_ID` | names the version |

A version that passed its gate is approved with `python -m services.training.promote <version>`
(or at once with `--approve` / `AUTO_APPROVE=true`), which writes `MODEL_URI/approved.json`.
Serving loads that version at startup, so an approval is deployed by a restart, not a rebuild;
`/readyz` answers 503 until a model is loaded. The drift job (`python -m services.drift.job`,
`DRIFT_DATA_URI`) compares recent data with the approved version's training data (PSI and KS per
feature) and exits 3 when a feature drifted past the limits in `[drift]`."""


_REACH = {
    ("aws_sigv4", "lambda"): (
        "The endpoint is a Lambda function URL with IAM authorisation: the smoke and load tests sign each "
        "request (SigV4) as the environment's deploy identity; other callers need `lambda:InvokeFunctionUrl` "
        "on the function."),
    ("aws_sigv4", "sagemaker"): (
        "The endpoint is a SageMaker real-time endpoint, called through the SageMaker runtime API "
        "(`POST <url>/invocations`, signed with SigV4): the smoke and load tests sign as the environment's "
        "deploy identity; other callers need `sagemaker:InvokeEndpoint` on it. Its health routes are the "
        "platform's: the apply waits until the endpoint is in service."),
    ("google_id_token", ""): (
        "Cloud Run admits callers with the invoker role only: the smoke and load tests send an ID token of "
        "the environment's deploy identity whose audience is the service URL."),
}
_PRIVATE = ("The endpoint answers only inside the private network: set `NETWORK_RUNNER` to the label of a "
            "self-hosted runner there. The apply and load-test jobs run on it; until it is set, the smoke test "
            "fails with this instruction after the apply.")
_NETWORK_RUNNER = ("NETWORK_RUNNER", "label of a self-hosted runner inside the private network: the "
                   "endpoint's smoke and load tests run there")


def deploy_md(project: str, plan: Plan, constraints: ConstraintSchema, slug: str,
              access: ServingAccess | None = None, failed_queue_output: str | None = None,
              bootstrap_apis: list[str] | None = None, cmek_agents: list[str] | None = None) -> str:
    """The deployment guide. `failed_queue_output`: the root output naming where the stream
    consumer's failures are kept (a queue of failed batches, a dead-letter subscription), if any;
    `bootstrap_apis`: the APIs to enable before the bootstrap runs (Google Cloud); `cmek_agents`: the
    services whose agents the project's key is granted to (Google Cloud with a customer-managed key)."""
    info = _CLOUD[plan.cloud]
    airflow = airflow_orchestrated(plan)
    cadence = ((f"; the DAG in your Airflow retrains {constraints.training_cadence or DEFAULT_CADENCE}" if airflow
                else f"; the infrastructure's orchestrator also retrains {constraints.training_cadence}")
               if constraints.training_cadence or airflow else "")
    reach_key = (access.auth, access.sigv4_service) if access else None
    notes = [_REACH[reach_key]] if reach_key in _REACH else []
    notes += [_PRIVATE] if access and access.private else []
    reach = "".join(_paragraph(n) for n in notes)
    reused_streams = [_REUSED_STREAMS[c.pattern_id] for c in plan.components if c.pattern_id in _REUSED_STREAMS]
    on_cluster = bool(access and access.in_cluster)
    variables = [*info["variables"], *reused_streams,
                 *(CLUSTER_VARIABLES[plan.cloud] if on_cluster else []), *_COMMON_VARIABLES,
                 *([_training_runner(data_stays_in_scope(constraints))] if plan.component("training") else []),
                 *([_NETWORK_RUNNER] if access and access.private else [])]
    return fill(
        "docs/deploy.md", project=md_inline(project), cloud_title=CLOUD_TITLES.get(plan.cloud, plan.cloud),
        cli=info["cli"], identity_kind=info["identity_kind"], slug=slug, bootstrap_vars=info["bootstrap"],
        variables="\n".join(f"- `{k}`: {v}" for k, v in variables), cadence=cadence, reach=reach,
        first_data=first_data_md(plan), team_code=team_code_md(plan), replay=_replay_md(failed_queue_output),
        before_bootstrap=_apis_md(bootstrap_apis) + _service_agents_md(cmek_agents or [])
        + (_AZURE_DATA_ROLES if plan.cloud == "azure" else ""),
        **_serving_steps(plan),
    ) + ("\n" + "\n".join(deploy_section(plan.cloud, slug)) if airflow else "") + (
        "\n" + "\n".join(cluster_section(plan.cloud, slug)) + "\n" if on_cluster else "")


def _serving_steps(plan: Plan) -> dict[str, str]:
    """What the deploy does after each apply, and the check that follows: only a plan that serves
    online has a service to wait for, smoke-test and load-test."""
    if plan.component("serving_online") is None:
        return {"ship_serving": ". The plan serves no online API, so there is no\n   smoke or load test: the "
                                "jobs it schedules run on their own.",
                "check_service": "3. Check the jobs: each scheduled run's status is in the cloud's console; "
                                 "`docs/runbook.md`\n   lists the alarms that watch them."}
    return {"ship_serving": (", waits for the service and smoke-tests\n   `/readyz` and `/predict`. After staging, "
                             "a k6 load test (`tests/load/k6.js`) holds the service\n   to the stated rate and p95 "
                             "latency. Before an environment's first promotion it has no approved\n   model: the "
                             "smoke test then checks `/healthz` only and says so, and the load test waits for\n   a "
                             "model (run `retrain.yml`, then `promote.yml`, for that environment)."),
            "check_service": "3. Check the service: `/healthz` answers when the process is up; `/readyz` only once "
                             "the model is loaded."}


#: The bootstrap's state account refuses shared keys, so the provider signs in to its data plane as
#: the administrator, whose Owner or Contributor role grants no data access.
_AZURE_DATA_ROLES = (
    "\nThe state account accepts Entra ID sign-ins only (no shared keys), and Owner grants no data access: "
    "give the administrator who applies the bootstrap the data roles on the subscription first, for as "
    "long as they manage it:\n\n```sh\nfor role in \"Storage Blob Data Contributor\" \"Storage Queue Data "
    "Contributor\"; do\n  az role assignment create --role \"$role\" --assignee \"$(az ad signed-in-user show "
    "--query id -o tsv)\" \\\n    --scope \"/subscriptions/$(az account show --query id -o tsv)\"\ndone\n```\n")


#: How each service agent is made before anything asks for it (most exist once their API is on).
_AGENT_COMMANDS = {"storage": "gcloud storage service-agent --project <project>",
                   "bigquery": "bq show --encryption_service_account --project_id <project>"}


def _service_agents_md(agents: list[str]) -> str:
    """Commands that make the service agents the project's key is granted to, before the first apply."""
    if not agents:
        return ""
    lines = [_AGENT_COMMANDS.get(a, f"gcloud beta services identity create --service={a}.googleapis.com "
                                    "--project <project>") for a in agents]
    code = "\n".join(lines)
    return ("\nThe environments' key is granted to the service agents of the services the stack uses "
            f"({', '.join(agents)}); a grant to an agent that does not exist yet fails the apply, and some "
            "exist only once asked for. In each environment's project, once the bootstrap has turned its APIs on and before the first deploy:\n\n"
            f"```sh\n{code}\n```\n")


def _apis_md(apis: list[str] | None) -> str:
    if not apis:
        return ""
    lines = "".join(f" \\\n  {api}" for api in apis)
    return ("\nA new project has most APIs off. Turn on those the bootstrap uses (it then turns on what `infra/` "
            "needs, in every environment's project):\n\n"
            f"```sh\ngcloud services enable{lines} \\\n  --project <project>\n```\n")


def _replay_md(output: str | None) -> str:
    if output is None:
        return ""
    if output.endswith(DEAD_LETTERS):
        return ("\n- Dead letters: an event the stream consumer failed on ten times moves to the subscription of "
                f"output `{output}` (kept a week). Look at them with `{pull_dead_letters(output)}`; publish them to "
                "the events topic again once the cause is fixed.")
    return ("\n- Failed stream batches: the consumer records a batch it could not score (after its retries) on "
            f"the queue of output `{output}`. Once the cause is fixed, score them again, with the environment's "
            f"credentials, into the files they would have written:\n  `{replay_failed(output)}`.")


def team_code_md(plan: Plan) -> str:
    """What the team writes before a component can do its job (`amp_domain.build.team_work`)."""
    work = team_work(plan)
    if not work:
        return ""
    catalog = load_catalog(plan.cloud)
    items = []
    for capability, what in work.items():
        comp = plan.component(capability)
        pattern = catalog.pattern(comp.pattern_id) if comp else None
        name = f"{md_inline(pattern.name)}, " if pattern else ""
        items.append(f"- `{capability}` ({name}`infra/modules/{capability}`): {md_inline('; and '.join(what))}.")
    intro = ("The infrastructure builds these components, but they do nothing until the team supplies what the "
             "repository does not generate (the review listed each as a risk):")
    return "\n" + "\n".join(textwrap.wrap(intro, 99)) + "\n\n" + "\n".join(items) + "\n"


#: Copying the sample into an environment's raw zone, by cloud: (command, where the name comes from).
_SAMPLE_UPLOAD = {
    "aws": ('aws s3 cp data/sample.csv "s3://<bucket>/raw/sample.csv"', "`storage_bucket_name`"),
    "gcp": ('gcloud storage cp data/sample.csv "gs://<bucket>/raw/sample.csv"', "`storage_bucket_name`"),
    "azure": ("az storage blob upload --auth-mode login --account-name <account> --container-name raw "
              "--name sample.csv --file data/sample.csv", "`storage_storage_account_name`"),
}


def first_data_md(plan: Plan) -> str:
    """What the first retrain needs: data where it reads, and how to try the loop on the sample."""
    if plan.component("storage") is None:
        return _paragraph("The first retrain reads the `DATA_URI` variable of the environment: point it at the "
                          "training data (CSV files with the columns of `data/sample.csv`) before running it.")
    command, output = _SAMPLE_UPLOAD[plan.cloud]
    return (_paragraph("The first retrain needs training data in the environment's `raw` zone (the README's "
                       "\"Where the data lives\"); without it, it stops at \"no CSV files\". To try the loop "
                       f"on the sample data first (the name is the environment's Terraform output {output}):")
            + f"\n\n   ```bash\n   {command}\n   ```")


def _paragraph(text: str) -> str:
    """A paragraph inside a numbered step of the deployment guide."""
    return "\n\n   " + "\n   ".join(textwrap.wrap(text, 95))
