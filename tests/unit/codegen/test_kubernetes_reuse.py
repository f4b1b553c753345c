"""A plan whose team already runs a Kubernetes cluster serves on that cluster.

`<cloud>:serving_online:kubernetes-existing` was a catalog pattern no module built, so a text
saying "the API runs on our existing GKE cluster" got Cloud Run or Container Apps beside the
team's cluster. It now builds the cloud side in Terraform (the pods' identity, read access to the
model registry, the deployer's access) and the Kubernetes side as manifests the deploy workflow
applies with the environment's Terraform outputs; the smoke test reaches the pods through a
port-forward and the staging load test runs as a Job in the cluster.
"""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
import yaml
from amp_contracts import ConstraintSchema
from amp_domain.requirements.extraction import extract

from services.codegen.render import render_repository
from services.codegen.render_kubernetes import EXAMPLES, LOAD_TEST_MANIFEST, SERVING_MANIFEST
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.validators.checks.kubernetes import examples
from services.validators.checks.names import consistency_findings
from services.validators.checks.runner import validate_tree

TEXTS = {
    "aws": "Real-time fraud scoring API on AWS us-east-1, served on our existing EKS Kubernetes cluster, p95 under "
           "60 ms at 800 requests per second, retrain weekly, budget $5,000/month.",
    "gcp": "Streaming content recommendations on GCP europe-west3: user events arrive through our existing Kafka "
           "cluster, the API runs on our existing Kubernetes cluster (GKE), 80 ms p95 at 3,000 requests per second, "
           "99.9% availability. Viewing history is personal data under GDPR. No serverless. Budget $10,000 per month.",
    "azure": "Real-time transaction alerts on Azure West US 2: events come from our existing Kafka cluster and models "
             "are served on our existing Kubernetes cluster (AKS). 100 ms p95 at 1,000 requests per second, 99.9% "
             "availability. Internal data. Budget $6,000 per month.",
}
#: What a cluster made here would be: none of these may appear when the team's cluster is reused.
CLUSTERS = {"aws": "aws_eks_cluster", "gcp": "google_container_cluster", "azure": "azurerm_kubernetes_cluster"}
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")
_ENVSUBST = re.compile(r'envsubst "([^"]+)" < (?:\.\./)?(\S+)')


@pytest.fixture(scope="module", params=sorted(TEXTS))
def repo(request):
    cloud = request.param
    c = extract(TEXTS[cloud]).constraints
    plan = compose_plan(c)
    cost = estimate(plan, c)
    files = render_repository(plan, c, cost, None, [], [], "Scoring", TEXTS[cloud], project_id="p-1")
    return cloud, files, plan, cost


def _documents(files: dict[str, str], path: str) -> list[dict]:
    """A manifest filled with the example values written beside it (prod's, from the plan)."""
    values = examples(files[EXAMPLES])
    return [d for d in yaml.safe_load_all(_PLACEHOLDER.sub(lambda m: values[m.group(1)], files[path])) if d]


def test_the_plan_serves_on_the_teams_cluster_and_makes_none(repo):
    cloud, files, plan, _ = repo
    assert plan.component("serving_online").pattern_id == f"{cloud}:serving_online:kubernetes-existing"
    infra = "\n".join(t for p, t in files.items() if p.startswith("infra/") and p.endswith(".tf"))
    assert f'resource "{CLUSTERS[cloud]}"' not in infra
    module = files["infra/modules/serving_online/main.tf"]
    assert "var.existing_cluster_name" in module
    declared = files["infra/variables.tf"].split('variable "existing_cluster_name" {', 1)[1].split("\n}\n", 1)[0]
    assert "default" not in declared
    plans = [line for p, t in files.items() if p.startswith(".github/workflows/")
             for line in t.splitlines() if re.match(r"^\s*(?:run:\s*)?terraform(?: -chdir=\S+)? plan\s", line)]
    assert plans and all('-var "existing_cluster_name=${{ vars.K8S_CLUSTER_NAME }}"' in line for line in plans)


def test_the_manifests_are_valid_kubernetes_and_restricted(repo):
    cloud, files, _, _ = repo
    kinds = []
    for path in (SERVING_MANIFEST, LOAD_TEST_MANIFEST):
        for doc in _documents(files, path):
            kubernetes_validate.validate(doc, "1.30", strict=True)
            kinds.append(doc["kind"])
            spec = doc.get("spec", {})
            pod = spec.get("template", {}).get("spec")
            if pod is None:
                continue
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
            assert pod["automountServiceAccountToken"] is False
            for container in pod["containers"]:
                sc = container["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
                assert sc["capabilities"]["drop"] == ["ALL"]
                assert container["resources"]["limits"]
    assert sorted(kinds) == ["Deployment", "HorizontalPodAutoscaler", "Job", "NetworkPolicy", "PodDisruptionBudget",
                             "Service", "ServiceAccount"]
    hpa = next(d for d in _documents(files, SERVING_MANIFEST) if d["kind"] == "HorizontalPodAutoscaler")
    serving = repo[2].component("serving_online").sizing
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (serving["replicas"], serving["max_replicas"])
    deployment = next(d for d in _documents(files, SERVING_MANIFEST) if d["kind"] == "Deployment")
    assert "replicas" not in deployment["spec"], "the autoscaler owns the count; an apply must not reset it"
    probes = deployment["spec"]["template"]["spec"]["containers"][0]
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert validate_tree(files, checks=["kubernetes"]).tool("kubernetes").status == "pass"


def test_every_value_of_the_manifests_is_filled_from_the_state_or_the_build(repo):
    _, files, _, _ = repo
    deploy = files[".github/workflows/deploy.yml"]
    filled = {path: set(re.findall(r"\$([A-Z_]+)", names)) for names, path in _ENVSUBST.findall(deploy)}
    assert set(filled) == {SERVING_MANIFEST, LOAD_TEST_MANIFEST}
    for path, names in filled.items():
        assert set(_PLACEHOLDER.findall(files[path])) <= names, path
    outputs = set(re.findall(r'^output "([a-z0-9_]+)"', files["infra/outputs.tf"], re.MULTILINE))
    read = set(re.findall(r"terraform output -raw (\S+)\)", deploy))
    assert read and read <= outputs
    assert not consistency_findings(files)


def test_the_workflows_deploy_smoke_test_load_test_and_roll_on_the_cluster(repo):
    cloud, files, _, _ = repo
    deploy, promote = files[".github/workflows/deploy.yml"], files[".github/workflows/promote.yml"]
    login = {"aws": "aws eks update-kubeconfig", "gcp": "gcloud container clusters get-credentials",
             "azure": "az aks get-credentials"}[cloud]
    apply_jobs = re.findall(r"^  apply-(\w+):\n(.*?)(?=^  \S|\Z)", deploy, re.MULTILINE | re.DOTALL)
    assert [env for env, _ in apply_jobs] == ["dev", "staging", "prod"]
    for _, job in apply_jobs:
        assert login in job and "kubectl apply -f -" in job and "rollout status" in job
        assert "port-forward" in job and '"$URL/predict"' in job
    load = deploy.split("  load-staging:", 1)[1]
    assert "kubectl apply -f -" in load and "k6" in load and "setup-k6-action" not in load
    assert promote.count(login) == 3 and promote.count('set env "deployment/$deployment" "MODEL_RUN_ID=$RUN_ID"') == 3


def test_only_the_pods_share_of_the_nodes_is_priced(repo):
    cloud, _, plan, cost = repo
    pid = plan.component("serving_online").pattern_id
    lines = [b for b in cost.breakdown if b.component == pid]
    assert len(lines) == 1 and lines[0].usd > 0
    assert "half of a" in lines[0].qty and "node" in lines[0].qty
    assert not [b for b in cost.breakdown if b.component == pid and re.search(r"balanc|gateway|forwarding", b.service,
                                                                               re.IGNORECASE)]


def test_the_guide_says_what_the_cluster_needs(repo):
    cloud, files, _, _ = repo
    guide = files["docs/README.md"]
    assert "`K8S_CLUSTER_NAME`" in guide and "## Serving on your Kubernetes cluster" in guide
    assert "kubectl create namespace scoring-prod" in guide and "enforce=restricted" in guide
    assert "`deploy/kubernetes/`" in files["README.md"]
    if cloud == "gcp":
        grants = files["infra/bootstrap/main.tf"]
        assert "roles/container.developer" in grants and "roles/container.admin" not in grants


def test_without_a_cluster_of_its_own_the_plan_makes_no_manifests():
    c = ConstraintSchema.model_validate({"cloud": "gcp", "regions": ["europe-west3"], "workload_types": ["online"],
                                         "throughput_rps": 300, "sla_latency_ms": 100})
    plan = compose_plan(c)
    files = render_repository(plan, c, estimate(plan, c), None, [], [], "Scoring", "")
    assert plan.component("serving_online").pattern_id != "gcp:serving_online:kubernetes-existing"
    assert not [p for p in files if p.startswith("deploy/")]
    assert "K8S_CLUSTER_NAME" not in "\n".join(files.values())


@pytest.mark.slow
def test_the_repository_passes_every_validator(repo):
    report = validate_tree(repo[1], timeout_s=600, terraform=True)
    failed = {t.tool: [f.message for f in t.findings][:3] or t.reason for t in report.tools
              if t.status not in ("pass", "skipped")}
    assert not failed, failed


def test_the_serving_alerts_read_the_pods_logs(repo):
    """The serving metrics are the pods' log lines (Google Cloud, Azure) or embedded metrics in them
    (AWS): the alerts must look where the cluster keeps them, not at Cloud Run or the environment."""
    cloud, files, _, _ = repo
    monitoring = files["infra/modules/monitoring/main.tf"]
    if cloud == "gcp":
        filters = re.findall(r'^\s*(?:denominator_)?filter\s*=\s*"(metric\.type=.*)"$', monitoring, re.MULTILINE)
        serving = [f for f in filters if "prediction_" in f]
        assert serving and all('resource.type=\\"k8s_container\\"' in f for f in serving), serving
        assert 'resource.labels.namespace_name=\\"${var.name_prefix}\\"' in monitoring
    elif cloud == "azure":
        rules = monitoring.count('resource "azurerm_monitor_scheduled_query_rules_alert_v2"')
        assert rules and monitoring.count("var.wired_serving_cluster_id ? var.serving_cluster_id") == rules
        assert re.search(r"^  serving_cluster_id += module\.serving_online\.cluster_id$", files["infra/main.tf"],
                         re.MULTILINE)
    else:
        assert re.search(r'^  namespace\s+= "\$\{var\.name_prefix\}/model"$', monitoring, re.MULTILINE)
        assert re.search(r'^output "metrics_namespace" \{\n.*\n  value\s+= "\$\{var\.name_prefix\}/model"$',
                         files["infra/modules/serving_online/outputs.tf"], re.MULTILINE)
        assert "value: ${METRICS_NAMESPACE}" in files[SERVING_MANIFEST]
