"""The deploy workflow reaches the endpoint the plan builds, as a caller that endpoint accepts.

A smoke test that cannot reach or authenticate to the service fails every deploy: a Lambda
function URL takes SigV4-signed requests only, Cloud Run takes Google ID tokens only, and an
internal load balancer answers only inside its network. The smoke script is also run here, in
bash against a local server, for both a first deploy (no approved model) and a later one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from amp_contracts import ConstraintSchema, Plan

from services.codegen.render import render_repository
from services.codegen.render_ci import NETWORK_RUNNER
from services.codegen.render_text import TEMPLATES
from services.codegen.serving_access import BY_TEMPLATE, template_key
from tests.unit.codegen.conftest import comp, inputs_for


def _render(cloud: str, region: str, serving: str, deployment: str, *, network: str | None = None) -> dict[str, str]:
    comps = [comp(cloud, "storage", {"aws": "s3-lake", "gcp": "gcs-lake", "azure": "adls-gen2"}[cloud]),
             comp(cloud, "training", {"aws": "sagemaker-training", "gcp": "vertex-training",
                                      "azure": "azureml-compute"}[cloud]),
             comp(cloud, "serving_online", serving, deployment=deployment)]
    if network:
        comps.insert(0, comp(cloud, "networking_private", network))
    plan = Plan(cloud=cloud, regions=[region], components=comps)
    constraints = ConstraintSchema(cloud=cloud, workload_types=["online"], throughput_rps=40, sla_latency_ms=300)
    cost, policy, risks, cards = inputs_for(plan)
    return render_repository(plan, constraints, cost, policy, risks, cards, f"Access {serving}", "Score tickets.")


LAMBDA = ("aws", "us-east-1", "lambda", "serverless")
FARGATE = ("aws", "eu-west-1", "ecs-fargate", "containers")
CLOUD_RUN = ("gcp", "europe-west4", "cloud-run", "serverless")
CONTAINER_APPS = ("azure", "westeurope", "container-apps", "containers")
SAGEMAKER = ("aws", "ap-southeast-1", "sagemaker-endpoint", "managed")


def _jobs(files: dict[str, str]) -> dict:
    return yaml.safe_load(files[".github/workflows/deploy.yml"])["jobs"]


def _step(job: dict, name: str) -> dict:
    return next(s for s in job["steps"] if s.get("name", "").startswith(name))


def test_every_serving_module_template_says_how_it_is_reached():
    templates = {template_key(str(p.relative_to(TEMPLATES)))
                 for p in TEMPLATES.glob("terraform/*/modules/serving_online*.tf")}
    assert templates and templates <= set(BY_TEMPLATE), sorted(templates - set(BY_TEMPLATE))


def test_the_table_agrees_with_what_each_template_builds():
    """Change a template's authorisation or ingress and this fails until the table follows."""
    for key, access_of in BY_TEMPLATE.items():
        text = (TEMPLATES / "terraform" / f"{key.split('/')[0]}/modules/{key.split('/')[1]}.tf").read_text()
        open_access, closed_access = access_of(False), access_of(True)
        if 'authorization_type = "AWS_IAM"' in text:
            assert open_access.auth == "aws_sigv4" and open_access.sigv4_service == "lambda", key
        if 'resource "aws_sagemaker_endpoint" "api"' in text:  # the runtime API: IAM, /invocations only
            assert (open_access.auth, open_access.sigv4_service) == ("aws_sigv4", "sagemaker"), key
            assert open_access.predict_path == "/invocations" and not open_access.ready_path, key
        if "google_cloud_run_v2_service" in text:
            assert '"allUsers"' not in text and open_access.auth == "google_id_token", key
        if "internal                   = true" in text:
            assert open_access.private and closed_access.private, key
        if "INGRESS_TRAFFIC_INTERNAL_ONLY" in text or "external_enabled = var.subnet_id == null" in text:
            assert closed_access.private and not open_access.private, key


def test_lambda_runs_the_web_server_through_the_adapter_and_reads_the_registry():
    files = _render(*LAMBDA)
    docker = files["services/serving/Dockerfile"]
    assert "/opt/extensions/lambda-adapter" in docker and "AWS_LWA_READINESS_CHECK_PATH=/healthz" in docker
    module = files["infra/modules/serving_online/main.tf"]
    assert "MODEL_URI = local.model_uri" in module and "MODEL_PATH" not in module
    assert '"s3:GetObject"' in module and "local.model_prefix" in module
    # Promoting a model replaces the warm environments, which keep the model they loaded.
    roll = yaml.safe_load(files[".github/workflows/promote.yml"])["jobs"]["promote-dev"]
    roll = _step(roll, "Roll serving")["run"]
    assert "aws lambda update-function-configuration" in roll and "MODEL_RUN_ID: $r" in roll
    assert "lambda:InvokeFunctionUrl" in files["docs/README.md"] and "NETWORK_RUNNER" not in files["docs/README.md"]
    # Elsewhere the image stays as it was.
    assert "lambda-adapter" not in _render(*FARGATE)["services/serving/Dockerfile"]


def test_a_function_url_is_called_with_sigv4_from_github_hosted_runners():
    files = _render(*LAMBDA)
    jobs = _jobs(files)
    apply, load = jobs["apply-staging"], jobs["load-staging"]
    assert apply["runs-on"] == load["runs-on"] == "ubuntu-latest"
    smoke = _step(apply, "Smoke test")["run"]
    assert smoke.count('--aws-sigv4 "aws:amz:$AWS_REGION:lambda"') == 3 and "x-amz-security-token" in smoke
    # The load test signs with staging's deploy identity, which trusts jobs of that environment only.
    assert load["environment"] == "staging" and load["permissions"]["id-token"] == "write"
    assert any(s.get("uses", "").startswith("aws-actions/configure-aws-credentials@") for s in load["steps"])
    assert _step(load, "k6")["env"]["SIGV4_SERVICE"] == "lambda"
    k6 = files["tests/load/k6.js"]
    assert "SignatureV4" in k6 and "signer.sign(" in k6 and 'path: `${base}/predict`' in k6


def test_an_internal_endpoint_is_called_from_a_runner_inside_the_network():
    for shape, network in ((FARGATE, None), (CLOUD_RUN, "vpc-sc-psc"), (CONTAINER_APPS, "private-link")):
        files = _render(*shape, network=network)
        jobs = _jobs(files)
        assert "`NETWORK_RUNNER`: label of a self-hosted runner" in files["docs/README.md"], shape
        for job in (jobs["apply-dev"], jobs["apply-prod"], jobs["load-staging"]):
            assert job["runs-on"] == NETWORK_RUNNER, shape
        smoke = _step(jobs["apply-dev"], "Smoke test")
        assert smoke["env"]["NETWORK_RUNNER"] == "${{ vars.NETWORK_RUNNER }}"
        assert 'test -n "$NETWORK_RUNNER"' in smoke["run"] and 'test -n "$NETWORK_RUNNER"' in _step(
            jobs["load-staging"], "k6")["run"]
    # Without a private network, Cloud Run and Container Apps are reached from GitHub's runners.
    for shape in (CLOUD_RUN, CONTAINER_APPS):
        jobs = _jobs(_render(*shape))
        assert jobs["apply-dev"]["runs-on"] == jobs["load-staging"]["runs-on"] == "ubuntu-latest", shape
        assert "NETWORK_RUNNER" not in _step(jobs["apply-dev"], "Smoke test")["env"]


def test_cloud_run_is_called_with_an_id_token_for_its_url():
    files = _render(*CLOUD_RUN)
    jobs = _jobs(files)
    apply = jobs["apply-dev"]
    names = [s.get("name", "") for s in apply["steps"]]
    token = _step(apply, "Identity token")
    assert names.index("Service URL") < names.index(token["name"]) < names.index(
        "Smoke test (readiness, then one prediction)")
    assert token["with"]["token_format"] == "id_token"
    assert token["with"]["id_token_audience"] == "${{ steps.url.outputs.url }}"
    assert "-dev-deploy@" in token["with"]["service_account"]  # dev's deploy identity, as the apply job's
    smoke = _step(apply, "Smoke test")
    assert smoke["env"]["ID_TOKEN"] == "${{ steps.invoker.outputs.id_token }}"
    assert 'Authorization: Bearer $ID_TOKEN' in smoke["run"]
    load = jobs["load-staging"]
    assert _step(load, "Identity token")["with"]["id_token_audience"] == "${{ needs.apply-staging.outputs.url }}"
    assert _step(load, "k6")["env"]["ID_TOKEN"] == "${{ steps.invoker.outputs.id_token }}"
    assert "Bearer ${__ENV.ID_TOKEN}" in files["tests/load/k6.js"]


def test_the_load_test_runs_only_once_staging_has_a_model():
    jobs = _jobs(_render(*FARGATE))
    assert jobs["apply-staging"]["outputs"]["model_ready"] == "${{ steps.smoke.outputs.model_ready }}"
    load = jobs["load-staging"]
    assert _step(load, "k6")["if"] == "needs.apply-staging.outputs.model_ready == 'true'"
    assert _step(load, "No approved model")["if"] == "needs.apply-staging.outputs.model_ready != 'true'"


# ---- the smoke script itself, run in bash against a local service ----

class _Service(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str]]

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.seen.append((self.command, self.path, self.headers.get("authorization", "")))
        scoring = self.path in ("/predict", "/invocations")
        ok = self.path in ("/healthz", "/readyz", "/predict", "/invocations") and (self.command == "POST") == scoring
        if scoring:
            ok = ok and set(json.loads(body)) > set()
        self.send_response(200 if ok else 404)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def service():
    seen: list[tuple[str, str, str]] = []
    handler = type("Handler", (_Service,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def _run_smoke(files: dict[str, str], url: str, tmp_path: Path, approved: bool | None) -> dict[str, str]:
    """The apply job's smoke step, as the runner runs it (bash -e -o pipefail), with a stand-in `aws`.
    `approved`: True, a version is approved; None, approved.json is the infrastructure's placeholder
    naming no version; False, there is no approved.json."""
    tmp_path = tmp_path / f"smoke-{len(list(tmp_path.iterdir()))}"
    tmp_path.mkdir()
    if shutil.which("curl") is None or shutil.which("jq") is None:
        pytest.skip("curl or jq is not installed")
    repo = tmp_path / "repo"
    (repo / "tests/load").mkdir(parents=True)
    (repo / "tests/load/request.json").write_text(files["tests/load/request.json"])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # `aws s3 cp SRC DEST` copies approved.json where the registry holds one.
    aws = bin_dir / "aws"
    record = {True: '{"version": "v1"}', None: '{"version": null}'}.get(approved)
    aws.write_text(f"#!/bin/sh\necho '{record}' > \"$4\"\n" if record else "#!/bin/sh\nexit 1\n")
    aws.chmod(0o755)
    output = tmp_path / "github_output"
    output.write_text("")
    step = _step(_jobs(files)["apply-dev"], "Smoke test")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "URL": url, "GITHUB_OUTPUT": str(output),
           "MODEL_URI": "s3://bucket/models", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
           "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token", "NETWORK_RUNNER": "in-vpc"}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def test_smoke_script_checks_readiness_and_a_signed_prediction_once_a_model_is_approved(service, tmp_path):
    url, seen = service
    outputs = _run_smoke(_render(*LAMBDA), url, tmp_path, approved=True)
    assert outputs["model_ready"] == "true"
    assert [(m, p) for m, p, _ in seen] == [("GET", "/readyz"), ("POST", "/predict")]
    assert all(auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") and "/us-east-1/lambda/" in auth
               for _, _, auth in seen)


def test_smoke_script_checks_liveness_only_before_the_first_promotion(service, tmp_path):
    url, seen = service
    files = _render(*FARGATE)
    outputs = _run_smoke(files, url, tmp_path, approved=False)
    assert outputs["model_ready"] == "false"
    assert [(m, p, a) for m, p, a in seen] == [("GET", "/healthz", "")]
    # The infrastructure's placeholder {"version": null} is no approved model either.
    assert _run_smoke(files, url, tmp_path, approved=None)["model_ready"] == "false"
    assert [(m, p, a) for m, p, a in seen] == [("GET", "/healthz", "")] * 2


def test_a_sagemaker_endpoint_is_invoked_through_the_runtime_api(service, tmp_path):
    files = _render(*SAGEMAKER)
    assert 'exec uvicorn services.serving.sagemaker:app --host 0.0.0.0 --port 8080' in files["services/serving/Dockerfile"]
    module = files["infra/modules/serving_online/main.tf"]
    assert "var.instance_type" in module and "MODEL_URI = local.model_uri" in module
    assert 'instance_type    = "ml.' in files["infra/environments/prod.tfvars"]
    assert "/endpoints/${aws_sagemaker_endpoint.api.name}" in files["infra/modules/serving_online/outputs.tf"]
    assert "path: `${base}/invocations`" in files["tests/load/k6.js"]
    assert "`sagemaker:InvokeEndpoint`" in files["docs/README.md"] and "lambda:" not in files["docs/README.md"]
    roll = _step(yaml.safe_load(files[".github/workflows/promote.yml"])["jobs"]["promote-prod"], "Roll serving")["run"]
    assert "aws sagemaker update-endpoint" in roll and "--retain-all-variant-properties" in roll
    url, seen = service
    # The runtime API exposes /invocations only: readiness is what the apply waited for.
    assert _run_smoke(files, url, tmp_path, approved=True)["model_ready"] == "true"
    assert [(m, p) for m, p, _ in seen] == [("POST", "/invocations")] and "/sagemaker/" in seen[0][2]
    assert _run_smoke(files, url, tmp_path, approved=False)["model_ready"] == "false"
    assert len(seen) == 1


def test_the_sagemaker_routes_answer_as_the_api_does(tmp_path):
    """The generated repository's own tests of /ping and /invocations, run as its CI runs them."""
    files = _render(*SAGEMAKER)
    for path, text in files.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "services/serving/tests/test_sagemaker.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0 and "3 passed in" in done.stdout, done.stdout + done.stderr
    assert "services/serving/sagemaker.py" not in _render(*FARGATE)


# ---- the image is pullable where the service runs ----

def test_container_apps_pull_the_image_with_their_own_identity():
    files = _render(*CONTAINER_APPS)
    module = files["infra/modules/serving_online/main.tf"]
    app = module[module.index('resource "azurerm_container_app" "api"'):]
    app = app[:app.index("\n}\n")]
    registry = re.search(r"registry \{\n(.*?)\n  \}", app, re.S)
    assert registry, "the app names the registry it pulls from"
    assert re.search(r"identity = azurerm_user_assigned_identity\.api\.id", registry.group(1))
    assert re.search(r"server\s+= data\.azurerm_container_registry\.service\.login_server", registry.group(1))
    assert "depends_on = [azurerm_role_assignment.pull_image]" in app
    grant = module[module.index('resource "azurerm_role_assignment" "pull_image"'):]
    assert 'role_definition_name = "AcrPull"' in grant[:grant.index("\n}\n")]
    assert "principal_id         = azurerm_user_assigned_identity.api.principal_id" in grant[:grant.index("\n}\n")]
    # The registry is looked up where the bootstrap creates it.
    assert 'service_registry_resource_group = "${var.project_name}-cicd-rg"' in files["infra/main.tf"]
    assert 'name     = "${var.project_name}-cicd-rg"' in files["infra/bootstrap/main.tf"]


def test_lambda_may_read_the_image_of_the_projects_functions_only():
    files = _render(*LAMBDA)
    boot = files["infra/bootstrap/main.tf"]
    policy = boot[boot.index('resource "aws_ecr_repository_policy" "service"'):]
    assert 'Principal = { Service = "lambda.amazonaws.com" }' in policy
    assert ':function:${var.project_name}-*' in policy
    assert 'function_name                  = "${var.name_prefix}-inference"' in files["infra/modules/serving_online/main.tf"]
    assert 'name_prefix   = "${var.project_name}-${var.environment}"' in files["infra/main.tf"]


def test_cloud_run_in_an_environment_project_of_its_own_may_pull_the_image():
    boot = _render(*CLOUD_RUN)["infra/bootstrap/main.tf"]
    grant = boot[boot.index('resource "google_artifact_registry_repository_iam_member" "run_agents"'):]
    assert "for_each = data.google_project.environment" in grant
    assert "@serverless-robot-prod.iam.gserviceaccount.com" in grant and "roles/artifactregistry.reader" in grant
    assert "toset(values(var.environment_projects))" in boot


def test_every_endpoint_a_module_outputs_is_the_one_the_smoke_test_calls():
    """Cloud Run's `service_uri`, an internal load balancer's and Container Apps' `endpoint` were
    missed by a guess at output names, so their deploys stopped after dev asking for SERVICE_URL."""
    outputs = re.compile(r'^output "([a-z0-9_]+)"', re.MULTILINE)
    for key, access_of in BY_TEMPLATE.items():
        cloud, module = key.split("/")
        declared = outputs.findall((TEMPLATES / "terraform" / cloud / "modules" / f"{module}.tf").read_text())
        access = access_of(False)
        if access.url_output:
            assert access.url_output in declared, key
        else:  # no endpoint of its own: a cluster's Service, or a module without one
            assert access.in_cluster or not [o for o in declared if re.search(r"url|uri|endpoint$|hostname", o)], key
    for shape, output in ((FARGATE, "endpoint"), (CLOUD_RUN, "service_uri"), (CONTAINER_APPS, "endpoint"),
                          (LAMBDA, "endpoint_url"), (SAGEMAKER, "endpoint_url")):
        step = _step(_jobs(_render(*shape))["apply-dev"], "Service URL")
        assert f"terraform output -raw serving_online_{output}" in step["run"], shape
        assert "SERVICE_URL" not in json.dumps(step), shape
