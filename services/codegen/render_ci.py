"""GitHub Actions of the generated repository: CI, promotion by digest, and the ML workflows.

- `ci.yml`: every pull request and push to main lints, tests, validates both stacks and plans
  every environment with that environment's read-only identity; the plan is in the summary.
- `deploy.yml`: builds the image once, then per environment plans (read-only identity), shows
  and saves the plan, and applies exactly that plan in the protected GitHub environment with the
  environment's deploy identity; smoke test after each apply, load test after staging.
- `retrain.yml`, `promote.yml`, `drift.yml`: the model loop (train and evaluate; promote a run
  that passed its gate by writing MODEL_URI/approved.json and rolling serving; daily drift).

Identities and names come from `cicd_names` (shared with `infra/bootstrap`); which root outputs
the workflows read is decided from the rendered `infra/outputs.tf`, so a workflow never reads an
output that does not exist. Every action is pinned by commit (`actions.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .actions import pinned
from .cicd_names import BUILD_ENVIRONMENT, DRIFT_ENVIRONMENT, ENVIRONMENTS, MONITORED, STAGING, CiNames
from .metric_table import DRIFT, MetricTable
from .render_kubernetes import (
    CLUSTER_ROOT_VARIABLES,
    CLUSTER_VARIABLES,
    LOAD_TEST_MANIFEST,
    LOAD_VALUES,
    SERVING_MANIFEST,
    SERVING_VALUES,
    envsubst_names,
)
from .render_terraform import PASSED_BY_CI, aws_partition
from .render_text import TEMPLATES, _Template
from .serving_access import ServingAccess

TF_VERSION = "1.11.4"
#: Cron of scheduled retraining when the plan has no orchestrator of its own.
CADENCE_CRON = {"daily": "23 3 * * *", "weekly": "23 3 * * 1", "monthly": "23 3 1 * *"}
#: Jobs that call an endpoint closed to the internet run on a runner inside its network.
NETWORK_RUNNER = "${{ vars.NETWORK_RUNNER || 'ubuntu-latest' }}"
#: k6's signer for SigV4-authenticated endpoints (a jslib release, as k6 imports it).
K6_SIGNATURE_LIB = "https://jslib.k6.io/aws/0.14.0/signature.js"
K6_RUN = "k6 run tests/load/k6.js"


@dataclass(frozen=True)
class CiContext:
    """What the workflows depend on: the cloud, names, the root module's interface, the targets."""

    cloud: str
    slug: str
    region: str
    root_vars: set[str]
    root_outputs: dict[str, bool]  # output name -> is a per-region map
    caps: set[str]
    metrics: MetricTable
    rps: float | None = None
    p95_ms: float | None = None
    cadence: str | None = None
    #: How the deploy jobs reach the serving endpoint (None when the plan serves nothing online).
    access: ServingAccess | None = None
    unique: str = ""  # `project_digest` of the platform's project, in the names unique across the cloud
    #: Why the jobs that read the environment's data may not run on a hosted runner (None: they may).
    data_scope: str | None = None
    names: CiNames = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", CiNames(self.cloud, self.slug, self.unique))

    @property
    def serving(self) -> bool:
        return "serving_online" in self.caps

    def output(self, *candidates: str) -> str | None:
        return next((c for c in candidates if c in self.root_outputs), None)

    @property
    def endpoint(self) -> ServingAccess:
        return self.access or ServingAccess()

    @property
    def runs_on(self) -> str:
        """Where a job that calls the endpoint runs: inside the network when only it can reach it."""
        return NETWORK_RUNNER if self.serving and self.endpoint.private else "ubuntu-latest"


def _fill(name: str, **values: object) -> str:
    text = pinned((TEMPLATES / "ci" / name).read_text(encoding="utf-8"))
    return _Template(text).substitute({k: str(v) for k, v in values.items()})


def _indent(lines: list[str], n: int) -> str:
    return "\n".join(" " * n + line if line else "" for line in lines)


# ---- cloud specifics ----

def workflow_env(ctx: CiContext) -> str:
    n = ctx.names
    lines = {
        "aws": [f"AWS_REGION: {ctx.region}",
                f"IMAGE_REPOSITORY: ${{{{ vars.AWS_ACCOUNT_ID }}}}.dkr.ecr.{ctx.region}.amazonaws.com/{n.service_repository}"],
        "gcp": [f"GCP_REGION: {ctx.region}", "GOOGLE_CLOUD_PROJECT: ${{ vars.GCP_PROJECT_ID }}",
                f"IMAGE_REPOSITORY: {ctx.region}-docker.pkg.dev/${{{{ vars.GCP_CI_PROJECT_ID }}}}/{n.service_repository}/service"],
        "azure": [f"IMAGE_REPOSITORY: {n.registry}.azurecr.io/{n.service_repository}", 'ARM_USE_OIDC: "true"',
                  "ARM_TENANT_ID: ${{ vars.AZURE_TENANT_ID }}", "ARM_SUBSCRIPTION_ID: ${{ vars.AZURE_SUBSCRIPTION_ID }}"],
    }[ctx.cloud]
    return _indent(lines, 2)


def job_env(ctx: CiContext, client_id: str) -> str:
    """Azure's Terraform provider signs in with the job's identity; the other clouds need nothing here."""
    if ctx.cloud != "azure":
        return ""
    return "\n" + _indent(["env:", f"  ARM_CLIENT_ID: {client_id}"], 4)


def _azure_client(kind: str, env: str) -> str:
    if kind == "plan":
        return f"${{{{ vars.AZURE_PLAN_CLIENT_ID_{env.upper()} }}}}"
    return "${{ vars.AZURE_CLIENT_ID }}"  # set on each GitHub environment (deploy, drift)


def auth(ctx: CiContext, identity: str) -> str:
    """The step that exchanges the job's OIDC token for `identity`'s short-lived credentials."""
    if ctx.cloud == "aws":
        lines = [f"- name: Cloud credentials (OIDC, role {identity})",
                 "  uses: aws-actions/configure-aws-credentials@pin",
                 "  with:",
                 f"    role-to-assume: arn:{aws_partition(ctx.region)}:iam::${{{{ vars.AWS_ACCOUNT_ID }}}}:role/{identity}",
                 "    aws-region: ${{ env.AWS_REGION }}"]
    elif ctx.cloud == "gcp":
        lines = [f"- name: Cloud credentials (workload identity federation, {identity})",
                 "  uses: google-github-actions/auth@pin",
                 "  with:",
                 "    workload_identity_provider: projects/${{ vars.GCP_CI_PROJECT_NUMBER }}/locations/global/"
                 f"workloadIdentityPools/{ctx.names.pool_id}/providers/github",
                 f"    service_account: {identity}@${{{{ vars.GCP_CI_PROJECT_ID }}}}.iam.gserviceaccount.com",
                 "- uses: google-github-actions/setup-gcloud@pin"]
    else:
        lines = [f"- name: Cloud credentials (OIDC federated identity {identity})",
                 "  uses: azure/login@pin",
                 "  with:",
                 "    client-id: ${{ env.ARM_CLIENT_ID }}",
                 "    tenant-id: ${{ env.ARM_TENANT_ID }}",
                 "    subscription-id: ${{ env.ARM_SUBSCRIPTION_ID }}"]
    return pinned(_indent(lines, 6))


def registry_login(ctx: CiContext) -> str:
    lines = {
        "aws": ["- name: Registry login", "  uses: aws-actions/amazon-ecr-login@pin"],
        "gcp": ["- name: Registry login", f'  run: gcloud auth configure-docker "{ctx.region}-docker.pkg.dev" --quiet'],
        "azure": ["- name: Registry login", f'  run: az acr login --name "{ctx.names.registry}"'],
    }[ctx.cloud]
    return pinned(_indent(lines, 6))


def backend_args(ctx: CiContext, env: str) -> str:
    """`-backend-config` flags; the names are the bootstrap stack's."""
    n = ctx.names
    pairs = {
        "aws": [("bucket", f"{n.state_bucket_prefix}-tfstate-${{{{ vars.AWS_ACCOUNT_ID }}}}"), ("key", n.state_key(env)),
                ("region", ctx.region), ("use_lockfile", "true"), ("encrypt", "true")],
        "gcp": [("bucket", f"{n.state_bucket_prefix}-tfstate-${{{{ vars.GCP_CI_PROJECT_ID }}}}"),
                ("prefix", n.state_key(env))],
        "azure": [("resource_group_name", f"{ctx.slug}-cicd-rg"), ("storage_account_name", n.state_storage_account),
                  ("container_name", "tfstate"), ("key", n.state_key(env)), ("use_azuread_auth", "true"),
                  ("use_oidc", "true")],
    }[ctx.cloud]
    return " ".join(f'-backend-config="{k}={v}"' for k, v in pairs)


def plan_vars(ctx: CiContext, image: str) -> str:
    """`-var` flags of every root variable the workflows pass (`PASSED_BY_CI`) that the root declares."""
    flags = ['-var "project_id=${{ vars.GCP_PROJECT_ID }}"'] if "project_id" in ctx.root_vars else []
    flags += [f'-var "{name}={value or image}"' for name, (_, value) in PASSED_BY_CI.items() if name in ctx.root_vars]
    return " ".join(flags)


def _scheme(ctx: CiContext) -> str:
    return {"aws": "s3", "gcp": "gs"}.get(ctx.cloud, "abfs")


def locate(ctx: CiContext) -> str:
    """Shell lines (inside infra/) that set the step outputs data_uri and model_uri from the state."""
    out = '"$GITHUB_OUTPUT"'
    if ctx.cloud == "azure" and (name := ctx.output("storage_storage_account_name")):
        lines = [f'account="$(terraform output -raw {name})"',
                 f'echo "data_uri=abfs://raw@$account.dfs.core.windows.net" >> {out}',
                 f'echo "model_uri=abfs://models@$account.dfs.core.windows.net" >> {out}']
    elif ctx.cloud != "azure" and (name := ctx.output("storage_bucket_name")):
        lines = [f'bucket="$(terraform output -raw {name})"',
                 f'echo "data_uri={_scheme(ctx)}://$bucket/raw" >> {out}',
                 f'echo "model_uri={_scheme(ctx)}://$bucket/models" >> {out}']
    else:  # no data lake in the plan: the locations are GitHub environment variables
        lines = [f'echo "data_uri=${{{{ vars.DATA_URI }}}}" >> {out}', f'echo "model_uri=${{{{ vars.MODEL_URI }}}}" >> {out}']
    return _indent(lines, 10)


def _get(ctx: CiContext, relative: str, local: str) -> list[str]:
    """Copy MODEL_URI/<relative> to a local file."""
    if ctx.cloud == "aws":
        return [f'aws s3 cp "$MODEL_URI/{relative}" {local} --only-show-errors']
    if ctx.cloud == "gcp":
        return [f'gcloud storage cp "$MODEL_URI/{relative}" {local}']
    return ['account="${MODEL_URI#*@}"; account="${account%%.*}"',
            f'az storage blob download --auth-mode login --account-name "$account" --container-name models '
            f'--name "{relative}" --file {local} --only-show-errors > /dev/null']


def _model_approved(ctx: CiContext) -> str:
    """A shell condition: MODEL_URI/approved.json names a version (before the first promotion it is
    missing, or the infrastructure's placeholder `{"version": null}`)."""
    return "; ".join(_get(ctx, "approved.json", "/tmp/approved.json")) + " && jq -e .version /tmp/approved.json > /dev/null"


def _each(ctx: CiContext, name: str, var: str, body: list[str]) -> list[str]:
    """Shell running `body` with `var` set to an output's value, or to each value of a per-region map."""
    if ctx.root_outputs.get(name):
        return ["while read -r " + var + "; do", *("  " + b for b in body),
                f"done < <(terraform output -json {name} | jq -r '.[]')"]
    return [f'{var}="$(terraform output -raw {name})"', *body]


def _cluster_env(cloud: str) -> list[str]:
    """Step environment naming the team's cluster: each repository variable, with the value every
    plan passes it as (`PASSED_BY_CI`)."""
    return [f"{name}: {PASSED_BY_CI[CLUSTER_ROOT_VARIABLES[name]][1]}" for name, _ in CLUSTER_VARIABLES[cloud]]


def cluster_credentials(ctx: CiContext) -> list[str]:
    """Shell lines giving kubectl the job's identity on the team's cluster (its own short-lived token)."""
    lines = ['test -n "$K8S_CLUSTER_NAME" || { echo "::error::set the K8S_CLUSTER_NAME variable to your cluster\'s '
             'name (docs/README.md)"; exit 1; }']
    if ctx.cloud == "aws":
        return [*lines, 'aws eks update-kubeconfig --name "$K8S_CLUSTER_NAME" --region "$AWS_REGION" > /dev/null']
    if ctx.cloud == "gcp":
        return [*lines, "gcloud components install gke-gcloud-auth-plugin --quiet",
                'gcloud container clusters get-credentials "$K8S_CLUSTER_NAME" --location "$K8S_CLUSTER_LOCATION" '
                '--project "$GOOGLE_CLOUD_PROJECT"']
    # AKS with Entra ID: kubelogin exchanges the job's Azure CLI sign-in for the cluster's token.
    return [*lines, 'mkdir -p "$RUNNER_TEMP/bin" && export PATH="$RUNNER_TEMP/bin:$PATH"',
            'az aks install-cli --install-location "$RUNNER_TEMP/bin/kubectl" '
            '--kubelogin-install-location "$RUNNER_TEMP/bin/kubelogin" --only-show-errors > /dev/null',
            'az aks get-credentials --name "$K8S_CLUSTER_NAME" --resource-group "$K8S_CLUSTER_RESOURCE_GROUP" '
            "--overwrite-existing --only-show-errors",
            "kubelogin convert-kubeconfig -l azurecli"]


def cluster_step(ctx: CiContext, name: str, body: list[str], extra_env: list[str] | None = None,
                 step_id: str = "") -> list[str]:
    """A step that runs `body` with kubectl signed in to the team's cluster."""
    head = [f"- name: {name}", *([f"  id: {step_id}"] if step_id else []), "  env:",
            *("    " + e for e in [*_cluster_env(ctx.cloud), *(extra_env or [])]), "  run: |"]
    return [*head, *("    " + line for line in [*cluster_credentials(ctx), *body])]


def _values_from_state() -> list[str]:
    """Shell lines (inside infra/) exporting the manifests' values from the environment's outputs."""
    lines = [f'{name}="$(terraform output -raw {output})"' for name, output in SERVING_VALUES.items()]
    return [*lines, f"export {' '.join(SERVING_VALUES)}"]


def deploy_to_cluster(ctx: CiContext) -> list[str]:
    """Steps applying deploy/kubernetes/serving.yaml with this environment's values, then a port-forward
    from this runner to the Deployment, which the smoke test calls."""
    approved = _model_approved(ctx)
    body = [*_values_from_state(),
            'kubectl get namespace "$NAMESPACE" > /dev/null || { echo "::error::namespace $NAMESPACE does not exist '
            'on the cluster: create it (docs/README.md)"; exit 1; }',
            f"envsubst {envsubst_names(['IMAGE', *SERVING_VALUES])} < ../{SERVING_MANIFEST} | kubectl apply -f -",
            # Before the first promotion no pod can be ready (no approved model): wait for the rollout only with one.
            f"if {approved}; then",
            '  kubectl -n "$NAMESPACE" rollout status "deployment/$DEPLOYMENT" --timeout=15m',
            "else",  # alive, not ready: wait for a running pod for the smoke test's liveness check
            "  for _ in $(seq 60); do",
            '    kubectl -n "$NAMESPACE" get pods -l app.kubernetes.io/name=inference '
            "--field-selector=status.phase=Running -o name | grep -q . && break",
            "    sleep 10",
            "  done",
            "fi",
            'echo "namespace=$NAMESPACE" >> "$GITHUB_OUTPUT"',
            'echo "deployment=$DEPLOYMENT" >> "$GITHUB_OUTPUT"',
            # The port-forward outlives this step (until the job ends): the smoke test goes through it.
            'kubectl -n "$NAMESPACE" port-forward "deployment/$DEPLOYMENT" 18080:8080 > "$RUNNER_TEMP/port-forward.log" 2>&1 &',
            "for _ in $(seq 60); do curl --silent --output /dev/null http://127.0.0.1:18080/healthz && break; sleep 2; done",
            'echo "url=http://127.0.0.1:18080" >> "$GITHUB_OUTPUT"']
    return cluster_step(ctx, f"Deploy to the cluster ({SERVING_MANIFEST})", body,
                        ["IMAGE: ${{ needs.build.outputs.image }}"], step_id="url")


def cluster_load_job(ctx: CiContext, env: str) -> str:
    """The load test as a Job inside the cluster, next to the Service (no address outside it)."""
    apply = f"needs.apply-{env}.outputs"
    body = ['JOB="load-test-$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT"', "export JOB",  # unique in the namespace
            'kubectl -n "$NAMESPACE" create configmap "$JOB" --from-file=tests/load/k6.js '
            "--from-file=tests/load/request.json --dry-run=client -o yaml | kubectl apply -f -",
            f"envsubst {envsubst_names(LOAD_VALUES)} < {LOAD_TEST_MANIFEST} | kubectl apply -f -",
            "while :; do",
            "  state=\"$(kubectl -n \"$NAMESPACE\" get job \"$JOB\" -o jsonpath='{.status.succeeded}/{.status.failed}')\"",
            '  case "$state" in 1/*) passed=true; break ;; */[1-9]*) passed=false; break ;; esac',
            "  sleep 15",
            "done",
            'kubectl -n "$NAMESPACE" logs "job/$JOB" --tail=200',
            'kubectl -n "$NAMESPACE" delete configmap "$JOB" --ignore-not-found > /dev/null',
            'test "$passed" = true || { echo "::error::the load test missed a threshold (its log is above)"; exit 1; }']
    values = [f"NAMESPACE: ${{{{ {apply}.namespace }}}}", f"DEPLOYMENT: ${{{{ {apply}.deployment }}}}",
              f"RATE: ${{{{ vars.LOAD_TEST_RPS || '{ctx.rps or 50:g}' }}}}", f'P95_MS: "{ctx.p95_ms or 200:g}"',
              f'MAX_ERROR_RATE: "{_max_error_rate(ctx)}"', "DURATION: ${{ vars.LOAD_TEST_DURATION || '5m' }}"]
    step = cluster_step(ctx, "k6 in the cluster at the stated rate against the stated p95", body, values)
    step.insert(1, f"  if: {apply}.model_ready == 'true'")
    return _fill("load_job_cluster.yml", env=env, job_env=job_env(ctx, _azure_client("deploy", env)),
                 auth=auth(ctx, ctx.names.deploy_identity(env)), run=pinned(_indent(step, 6)))


def rollout(ctx: CiContext, wait_only: bool) -> list[str]:
    """Lines of a step (inside infra/) that restart serving so it loads approved.json, or waits for it."""
    if ctx.cloud == "aws" and ctx.output("serving_online_cluster_name") and ctx.output("serving_online_service_name"):
        action = ([] if wait_only else
                  ['aws ecs update-service --cluster "$cluster" --service "$service" --force-new-deployment > /dev/null'])
        return ['cluster="$(terraform output -raw serving_online_cluster_name)"',
                *_each(ctx, "serving_online_service_name", "service",
                       [*action, 'aws ecs wait services-stable --cluster "$cluster" --services "$service"'])]
    if ctx.endpoint.in_cluster:
        if wait_only:
            return []  # deploy_to_cluster waits for the rollout
        # A changed pod template is a rolling restart: new pods load approved.json before taking traffic.
        return [*cluster_credentials(ctx),
                'ns="$(terraform output -raw serving_online_namespace)"',
                'deployment="$(terraform output -raw serving_online_deployment_name)"',
                'kubectl -n "$ns" set env "deployment/$deployment" "MODEL_RUN_ID=$RUN_ID"',
                'kubectl -n "$ns" rollout status "deployment/$deployment" --timeout=15m']
    if wait_only:
        return []  # Lambda, Cloud Run, Container Apps and Functions report readiness to Terraform itself
    if ctx.cloud == "aws" and (name := ctx.output("serving_online_endpoint_name")) and ctx.endpoint.adapter == "sagemaker":
        # An endpoint restarts only onto a new configuration: a copy of its own, kept at the
        # instance count autoscaling set (the next apply moves it back, to the same model).
        return _each(ctx, name, "ep", [
            'cfg="$(aws sagemaker describe-endpoint --endpoint-name "$ep" --query EndpointConfigName --output text)"',
            'copy="${ep:0:40}-r$(date +%s)"',
            'aws sagemaker describe-endpoint-config --endpoint-config-name "$cfg" --output json | jq --arg n "$copy" '
            '\'{EndpointConfigName: $n, ProductionVariants, KmsKeyId} | with_entries(select(.value != null))\' '
            '> /tmp/endpoint-config.json',
            "aws sagemaker create-endpoint-config --cli-input-json file:///tmp/endpoint-config.json > /dev/null",
            'aws sagemaker update-endpoint --endpoint-name "$ep" --endpoint-config-name "$copy" '
            "--retain-all-variant-properties > /dev/null",
            'aws sagemaker wait endpoint-in-service --endpoint-name "$ep"'])
    if ctx.cloud == "aws" and (name := ctx.output("serving_online_function_name")):
        # Warm Lambda environments keep the model they loaded: a configuration change replaces them.
        # The variable is added to the function's own (they are replaced as a whole) and records the run.
        return _each(ctx, name, "fn", [
            'env="$(aws lambda get-function-configuration --function-name "$fn" --query Environment --output json '
            '| jq -c --arg r "$RUN_ID" \'{Variables: ((.Variables // {}) + {MODEL_RUN_ID: $r})}\')"',
            'aws lambda update-function-configuration --function-name "$fn" --environment "$env" > /dev/null',
            'aws lambda wait function-updated-v2 --function-name "$fn"'])
    if ctx.cloud == "gcp" and (name := ctx.output("serving_online_service_name")):
        # A new revision is how Cloud Run restarts; the variable also records which run it serves.
        return _each(ctx, name, "service", [
            'gcloud run services update "$service" --region "$GCP_REGION" --update-env-vars "MODEL_RUN_ID=$RUN_ID" --quiet'])
    if ctx.cloud == "azure" and (name := ctx.output("serving_online_container_app_name", "serving_online_app_name")):
        rg = f"{ctx.slug}-${{ENVIRONMENT}}-rg"
        return _each(ctx, name, "app", [
            f'az containerapp update --name "$app" --resource-group "{rg}" --set-env-vars "MODEL_RUN_ID=$RUN_ID" '
            "--only-show-errors > /dev/null"])
    return ['echo "Serving loads the approved model within MODEL_RELOAD_SECONDS (30 s unless set)." >> "$GITHUB_STEP_SUMMARY"']


def service_url(ctx: CiContext) -> list[str]:
    """A step (inside infra/) setting the `url` output to the serving endpoint."""
    url = ctx.endpoint.url_output
    name = f"serving_online_{url}" if url and f"serving_online_{url}" in ctx.root_outputs else None
    step = ["- name: Service URL", "  id: url"]
    if name is None:  # the plan exposes no endpoint output: the environment variable names it
        return [*step, "  env:", "    URL: ${{ vars.SERVICE_URL }}",
                "  run: echo \"url=$URL\" >> \"$GITHUB_OUTPUT\""]
    # Per region: the primary region's endpoint, whose region the credentials and signature use.
    read = (f"terraform output -json {name} | jq -r --arg r \"$PRIMARY_REGION\" '.[$r] // [.[]][0]'"
            if ctx.root_outputs[name] else f"terraform output -raw {name}")
    env = ["  env:", f"    PRIMARY_REGION: {ctx.region}"] if ctx.root_outputs[name] else []
    return [*step, *env, "  run: |", f'    url="$({read})"', '    case "$url" in http*) ;; *) url="http://$url" ;; esac',
            '    url="${url%/}"  # a function URL ends in a slash; the paths below add their own',
            '    echo "url=$url" >> "$GITHUB_OUTPUT"']


def curl(ctx: CiContext) -> str:
    """curl with what the endpoint requires of a caller (the job's own short-lived identity)."""
    a = ctx.endpoint
    call = "curl --fail --silent --show-error"
    if a.auth == "aws_sigv4":
        return (f'{call} --aws-sigv4 "aws:amz:$AWS_REGION:{a.sigv4_service}" '
                '--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-security-token: $AWS_SESSION_TOKEN"')
    if a.auth == "google_id_token":
        return f'{call} -H "Authorization: Bearer $ID_TOKEN"'
    return call


def id_token_step(ctx: CiContext, identity: str, audience: str) -> list[str]:
    """A Google ID token for `identity` with the service URL as audience: what Cloud Run's IAM checks."""
    if ctx.endpoint.auth != "google_id_token":
        return []
    return ["- name: Identity token for the service (audience is its URL)",
            "  id: invoker",
            f"  if: {audience.removeprefix('${{ ').removesuffix(' }}')} != ''",
            "  uses: google-github-actions/auth@pin",
            "  with:",
            "    workload_identity_provider: projects/${{ vars.GCP_CI_PROJECT_NUMBER }}/locations/global/"
            f"workloadIdentityPools/{ctx.names.pool_id}/providers/github",
            f"    service_account: {identity}@${{{{ vars.GCP_CI_PROJECT_ID }}}}.iam.gserviceaccount.com",
            "    token_format: id_token",
            f"    id_token_audience: {audience}",
            "    id_token_include_email: true"]


def _private_check(ctx: CiContext) -> list[str]:
    if not ctx.endpoint.private:
        return []
    return ['test -n "$NETWORK_RUNNER" || { echo "::error::the service answers only inside its network: set the '
            'NETWORK_RUNNER variable to the label of a self-hosted runner there (docs/README.md)"; exit 1; }']


def _auth_env(ctx: CiContext, token: str) -> list[str]:
    """Step environment the endpoint's checks need besides the URL."""
    out = ["    NETWORK_RUNNER: ${{ vars.NETWORK_RUNNER }}"] if ctx.endpoint.private else []
    if ctx.endpoint.auth == "google_id_token":
        out.append(f"    ID_TOKEN: {token}")
    return out


#: Job code a managed service runs from the data lake rather than from the image, by the root
#: output that says the plan has that job: (output, file in the repository, key in the lake).
LAKE_CODE = (("ingest_batch_ingest_job_name", "pipelines/ingest.py", "code/ingest_job.py"),)
#: What those scripts import, zipped for the service (Glue's --extra-py-files).
LAKE_LIBS = ("services/__init__.py", "services/common", "pipelines/__init__.py", "pipelines/ingest.py")


def upload_job_code(ctx: CiContext) -> list[str]:
    """A step copying the code of lake-run jobs (a Glue script) into the environment's lake."""
    bucket = ctx.output("storage_bucket_name")
    jobs = [(script, key) for output, script, key in LAKE_CODE if ctx.output(output)]
    if ctx.cloud != "aws" or not bucket or not jobs:
        return []
    body = [f'aws s3 cp "../{script}" "s3://$bucket/{key}" --only-show-errors' for script, key in jobs]
    body.append('aws s3 cp /tmp/job-libs.zip "s3://$bucket/code/ingest-libs.zip" --only-show-errors')
    zip_libs = (f"(cd .. && zip -qr /tmp/job-libs.zip {' '.join(LAKE_LIBS)} "
                "-x '*/tests/*' '*__pycache__*')")
    return ["- name: Job code into the lake (the Glue job runs it from there)", "  run: |",
            "    " + zip_libs, *("    " + line for line in _each(ctx, bucket, "bucket", body))]


def after_apply(ctx: CiContext, env: str) -> str:
    """Upload what lake-run jobs execute; wait for serving, then smoke-test it as a caller
    would: readiness and one prediction.

    Before the environment's first promotion there is no approved model, so the service is
    alive but not ready: the smoke test then checks liveness only and says what to run next,
    rather than failing every first deploy (`model_ready` tells the load test the same).
    """
    uploads = upload_job_code(ctx)
    if not ctx.serving:
        return _indent(uploads, 6) if uploads else ""
    lines: list[str] = [*uploads]
    where = ["- name: Where the models live (from the state)", "  id: where", "  run: |",
             *("    " + line.strip() for line in locate(ctx).splitlines())]
    if ctx.endpoint.in_cluster:
        lines += [*where, *deploy_to_cluster(ctx)]
    else:
        wait = rollout(ctx, wait_only=True)
        if wait:
            lines += ["- name: Wait for the new version to serve", "  run: |", *("    " + w for w in wait)]
        lines += service_url(ctx)
        lines += id_token_step(ctx, ctx.names.deploy_identity(env), "${{ steps.url.outputs.url }}")
        lines += where
    call, a = curl(ctx), ctx.endpoint
    retry = "--retry 20 --retry-delay 15 --retry-all-errors"
    first_run = (f'echo "::notice::no approved model in {env} yet: serving is up but not ready. Run retrain.yml, '
                 f'then promote.yml for {env}."')
    # Where the platform exposes no health route (SageMaker), the apply itself waited for it.
    ready = [f'  {call} {retry} "$URL{a.ready_path}"'] if a.ready_path else []
    live = ([f'  {call} {retry} "$URL{a.live_path}"'] if a.live_path
            else ['  echo "The endpoint is in service: its containers answer the platform\'s health check."'])
    body = ['test -n "$URL" || { echo "::error::no service URL: set the SERVICE_URL variable of this environment"; exit 1; }',
            *_private_check(ctx),
            f"if {_model_approved(ctx)}; then",
            *ready,
            f'  {call} {"" if ready else retry + " "}-X POST -H "content-type: application/json" '
            f'--data @tests/load/request.json "$URL{a.predict_path}"',
            '  echo "model_ready=true" >> "$GITHUB_OUTPUT"',
            "else",
            f"  {first_run}",
            *live,
            '  echo "model_ready=false" >> "$GITHUB_OUTPUT"',
            "fi"]
    lines += ["- name: Smoke test (readiness, then one prediction)", "  id: smoke", "  working-directory: .", "  env:",
              "    URL: ${{ steps.url.outputs.url }}", "    MODEL_URI: ${{ steps.where.outputs.model_uri }}",
              *_auth_env(ctx, "${{ steps.invoker.outputs.id_token }}"), "  run: |", *("    " + b for b in body)]
    return _indent(lines, 6)


def load_job(ctx: CiContext, env: str) -> str:
    """The k6 job after `env`'s apply: on a runner that can reach the endpoint, as a caller it accepts."""
    a = ctx.endpoint
    signed = a.auth != "none"
    identity = ctx.names.deploy_identity(env)
    # SigV4 signs with the job's AWS credentials; Google needs only the ID token step below.
    auth_steps = auth(ctx, identity) + "\n" if a.auth == "aws_sigv4" else ""
    auth_steps += pinned(_indent(id_token_step(ctx, identity, f"${{{{ needs.apply-{env}.outputs.url }}}}"), 6))
    k6_env = ["SIGV4_SERVICE: " + a.sigv4_service] if a.auth == "aws_sigv4" else []
    k6_env += _auth_env(ctx, "${{ steps.invoker.outputs.id_token }}")
    return _fill("load_job.yml", env=env, rps=f"{ctx.rps or 50:g}", p95_ms=f"{ctx.p95_ms or 200:g}",
                 max_error_rate=_max_error_rate(ctx), runs_on=ctx.runs_on,
                 # The deploy identity is trusted for jobs of its environment only.
                 environment=f"    environment: {env}\n" if signed else "",
                 id_token=(f"      id-token: write # OIDC: the load test calls the service as {env}'s deploy identity\n"
                           if signed else ""),
                 auth=(auth_steps.rstrip("\n") + "\n") if auth_steps.strip() else "",
                 k6_env="".join("\n          " + e.strip() for e in k6_env),
                 run=("|" + "".join(f"\n          {line}" for line in [*_private_check(ctx), K6_RUN])
                      if ctx.endpoint.private else K6_RUN))


def load_script(access: ServingAccess | None) -> str:
    """`tests/load/k6.js`: every request made as the endpoint requires (signed, or with a token)."""
    a = access or ServingAccess()
    auth, path = a.auth, a.predict_path
    request = f'{{ url: `${{__ENV.TARGET_URL}}{path}`, headers: {{ "content-type": "application/json" }} }}'
    values = {"auth_env": "", "auth_import": "", "auth_setup": "", "request": request}
    if auth == "google_id_token":
        values.update(auth_env=", ID_TOKEN (a Google ID token for the service)", request=(
            f'{{\n    url: `${{__ENV.TARGET_URL}}{path}`,\n    headers: {{ "content-type": "application/json", '
            'authorization: `Bearer ${__ENV.ID_TOKEN}` },\n  }'))
    elif auth == "aws_sigv4":
        values.update(
            auth_env=", SIGV4_SERVICE, AWS_REGION and the job's AWS credentials (every request is SigV4-signed)",
            auth_import=f'import {{ Endpoint, SignatureV4 }} from "{K6_SIGNATURE_LIB}";\n',
            auth_setup=(
                "// The endpoint takes IAM-authenticated requests only: each one is signed with the job's\n"
                "// short-lived credentials (signing costs microseconds, well inside the latency measured).\n"
                "const [, scheme, host, base] = __ENV.TARGET_URL.match(/^(https?):\\/\\/([^/]+)(.*)$/);\n"
                "const endpoint = new Endpoint(`${scheme}://${host}`);\n"
                "const signer = new SignatureV4({\n"
                "  service: __ENV.SIGV4_SERVICE,\n"
                "  region: __ENV.AWS_REGION,\n"
                "  credentials: {\n"
                "    accessKeyId: __ENV.AWS_ACCESS_KEY_ID,\n"
                "    secretAccessKey: __ENV.AWS_SECRET_ACCESS_KEY,\n"
                "    sessionToken: __ENV.AWS_SESSION_TOKEN,\n"
                "  },\n"
                "  uriEscapePath: true,\n"
                "  applyChecksum: true,\n"
                "});\n\n"),
            request=('signer.sign({\n    method: "POST",\n    endpoint,\n    path: `${base}' + path + '`,\n'
                     '    headers: { "content-type": "application/json" },\n    body,\n  })'))
    return _Template((TEMPLATES / "load" / "k6.js").read_text(encoding="utf-8")).substitute(values)


# ---- workflows ----

def _plan_job(ctx: CiContext, env: str, needs: list[str], image: str, condition: str) -> str:
    return _fill("plan_job.yml", env=env, needs=f"    needs: [{', '.join(needs)}]\n" if needs else "",
                 condition=f"    if: {condition}\n" if condition else "", job_env=job_env(ctx, _azure_client("plan", env)),
                 tf_version=TF_VERSION, auth=auth(ctx, ctx.names.plan_identity(env)),
                 backend_args=backend_args(ctx, env), plan_vars=plan_vars(ctx, image))


def ci_workflow(ctx: CiContext) -> str:
    # Fork pull requests get no OIDC token; their plan runs once a maintainer pushes the change.
    same_repo = "github.event_name == 'push' || github.event.pull_request.head.repo.full_name == github.repository"
    jobs = "".join(_plan_job(ctx, env, ["terraform"], "${IMAGE_REPOSITORY}:${GITHUB_SHA}", same_repo)
                   for env in ENVIRONMENTS)
    return _fill("ci.yml", workflow_env=workflow_env(ctx), tf_version=TF_VERSION, plan_jobs=jobs.rstrip("\n"))


def deploy_workflow(ctx: CiContext) -> str:
    jobs: list[str] = []
    previous: str | None = None
    for env in ENVIRONMENTS:
        needs = ["build"] + ([previous] if previous else [])
        jobs.append(_plan_job(ctx, env, needs, "${{ needs.build.outputs.image }}", ""))
        jobs.append(_fill("apply_job.yml", env=env, job_env=job_env(ctx, _azure_client("deploy", env)),
                          tf_version=TF_VERSION, auth=auth(ctx, ctx.names.deploy_identity(env)),
                          backend_args=backend_args(ctx, env), after_apply=pinned(after_apply(ctx, env)),
                          runs_on=ctx.runs_on,
                          outputs=_apply_outputs(ctx)))
        previous = f"apply-{env}"
        if env == STAGING and ctx.serving:
            jobs.append(cluster_load_job(ctx, env) if ctx.endpoint.in_cluster else load_job(ctx, env))
            previous = f"load-{env}"
    return _fill("deploy.yml", workflow_env=workflow_env(ctx), build_env=BUILD_ENVIRONMENT,
                 job_env=job_env(ctx, _azure_client("deploy", BUILD_ENVIRONMENT)),
                 build_auth=auth(ctx, ctx.names.deploy_identity(BUILD_ENVIRONMENT)),
                 registry_login=registry_login(ctx), jobs="".join(jobs).rstrip("\n"))


def _apply_outputs(ctx: CiContext) -> str:
    if not ctx.serving:
        return ""
    outputs = ["url: ${{ steps.url.outputs.url }}", "model_ready: ${{ steps.smoke.outputs.model_ready }}"]
    if ctx.endpoint.in_cluster:  # where the load test's Job runs
        outputs += ["namespace: ${{ steps.url.outputs.namespace }}", "deployment: ${{ steps.url.outputs.deployment }}"]
    return "    outputs:\n" + "".join(f"      {o}\n" for o in outputs)


def _max_error_rate(ctx: CiContext) -> str:
    alarm = next((a for a in ctx.metrics.alarms if a.key == "error_rate"), None)
    return f"{(alarm.threshold if alarm else 1.0) / 100:g}"


def _env_options() -> str:
    return ", ".join(ENVIRONMENTS)


def data_guard(ctx: CiContext) -> str:
    """The first step of a job that reads the environment's data: where that data may not leave the
    team's scope, it stops with the instruction unless the job runs on the team's own runner."""
    if ctx.data_scope is None:
        return ""
    return "\n" + _indent([
        "- name: The data stays inside the network",
        "  env:",
        "    TRAINING_RUNNER: ${{ vars.TRAINING_RUNNER }}",
        "  run: |",
        f'    test -n "$TRAINING_RUNNER" || {{ echo "::error::this job reads data held inside the team\'s network by '
        f'{ctx.data_scope}: set the TRAINING_RUNNER variable to the label of a self-hosted runner there '
        '(docs/README.md)"; exit 1; }'], 6)


def retrain_workflow(ctx: CiContext) -> str:
    scheduled = "orchestration" not in ctx.caps and ctx.cadence in CADENCE_CRON
    schedule = (f"  schedule:\n    - cron: \"{CADENCE_CRON[ctx.cadence]}\"\n" if scheduled else "")
    note = ("scheduled retraining runs here too, on the stated cadence" if scheduled
            else "scheduled retraining is the orchestrator's in infra/")
    jobs = "\n".join(_fill("retrain_job.yml", env=env, default_env=MONITORED, data_guard=data_guard(ctx),
                           job_env=job_env(ctx, _azure_client("deploy", env)), tf_version=TF_VERSION,
                           auth=auth(ctx, ctx.names.deploy_identity(env)), backend_args=backend_args(ctx, env),
                           locate=locate(ctx)).rstrip("\n") for env in ENVIRONMENTS)
    return _fill("retrain.yml", cadence_note=note, env_options=_env_options(), default_env=MONITORED,
                 schedule=schedule, workflow_env=workflow_env(ctx), jobs=jobs)


def promote_workflow(ctx: CiContext) -> str:
    jobs = []
    for env in ENVIRONMENTS:
        roll = rollout(ctx, wait_only=False)
        cluster_env = ["    " + e for e in _cluster_env(ctx.cloud)] if ctx.endpoint.in_cluster else []
        roll_step = _indent(["- name: Roll serving onto the approved model", "  working-directory: infra",
                             "  env:", "    RUN_ID: ${{ inputs.run_id }}", f"    ENVIRONMENT: {env}", *cluster_env,
                             "  run: |",
                             *("    " + r for r in roll)], 6) if ctx.serving else ""
        jobs.append(_fill("promote_job.yml", env=env, job_env=job_env(ctx, _azure_client("deploy", env)),
                          tf_version=TF_VERSION, auth=auth(ctx, ctx.names.deploy_identity(env)),
                          backend_args=backend_args(ctx, env), locate=locate(ctx),
                          fetch_evaluation=_indent(_get(ctx, "$RUN_ID/metadata.json", "metadata.json"), 10),
                          roll=roll_step).rstrip("\n"))
    return _fill("promote.yml", env_options=_env_options(), default_env=MONITORED, workflow_env=workflow_env(ctx),
                 jobs="\n".join(jobs))


def drift_namespace(slug: str, env: str) -> str:
    """The CloudWatch namespace of the model's metrics: `<name_prefix>/model`, as the monitoring module has it."""
    return f"{slug}-{env}/model"


def _publish_drift(ctx: CiContext) -> list[str]:
    if ctx.cloud == "aws":
        return [f'aws cloudwatch put-metric-data --namespace "{drift_namespace(ctx.slug, MONITORED)}" '
                f'--metric-name {DRIFT.name} --unit None --value "$PSI"']
    if ctx.cloud == "gcp":
        return [f'payload="$(jq -cn --arg v "$PSI" \'{{event: "metric", metric: "{DRIFT.name}", '
                f'service: "{ctx.slug}-{MONITORED}", value: ($v | tonumber)}}\')"',
                'gcloud logging write mlops-metrics "$payload" --payload-type=json --project "$GOOGLE_CLOUD_PROJECT"']
    name = ctx.output("monitoring_app_insights_id")
    if name is None:
        return [f'echo "::error::no Application Insights resource to publish {DRIFT.name} to"', "exit 1"]
    return [f'id="$(terraform -chdir=infra output -raw {name})"',
            f'body="$(jq -cn --arg v "$PSI" --arg t "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \'($v | tonumber) as $x | '
            f'{{time: $t, data: {{baseData: {{metric: "{DRIFT.name}", namespace: "mlops", dimNames: [], '
            f'series: [{{dimValues: [], min: $x, max: $x, sum: $x, count: 1}}]}}}}}}\')"',
            'az rest --method post --resource "https://monitoring.azure.com/" '
            f'--url "https://{ctx.region}.monitoring.azure.com$id/metrics" --body "$body" --only-show-errors']


def drift_workflow(ctx: CiContext) -> str:
    return _fill("drift.yml", env=MONITORED, workflow_env=workflow_env(ctx), data_guard=data_guard(ctx),
                 job_env=job_env(ctx, _azure_client("drift", MONITORED)), tf_version=TF_VERSION,
                 auth=auth(ctx, ctx.names.drift_identity()), backend_args=backend_args(ctx, MONITORED),
                 locate=locate(ctx),
                 publish_drift=_indent(_publish_drift(ctx), 10))


DEPENDABOT = """# Proposes updates of the pinned actions (by commit, with the release in a comment) and of the
# Python dependencies; each update arrives as a pull request that CI plans.
version: 2
updates:
  - package-ecosystem: github-actions
    directory: /
    schedule:
      interval: weekly
  - package-ecosystem: pip
    directory: /
    schedule:
      interval: weekly
"""


def render_workflows(ctx: CiContext) -> dict[str, str]:
    """Every workflow of the generated repository, and Dependabot's configuration."""
    files = {
        ".github/workflows/ci.yml": ci_workflow(ctx),
        ".github/workflows/deploy.yml": deploy_workflow(ctx),
        ".github/dependabot.yml": DEPENDABOT,
    }
    if "training" in ctx.caps:
        files[".github/workflows/retrain.yml"] = retrain_workflow(ctx)
        files[".github/workflows/promote.yml"] = promote_workflow(ctx)
        files[".github/workflows/drift.yml"] = drift_workflow(ctx)
    return {path: text.rstrip("\n") + "\n" for path, text in files.items()}


__all__ = ["DRIFT_ENVIRONMENT", "CiContext", "render_workflows"]
