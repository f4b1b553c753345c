"""`deploy/kubernetes/`: the inference API on the team's existing Kubernetes cluster.

When the plan serves on a cluster the team already runs (`serving_online@kubernetes`), Terraform
makes only the cloud side (the pods' identity and its access to the model registry) and outputs
the environment's sizing; these manifests are the Kubernetes side. The deploy workflow fills their
`${...}` values from those outputs and the image it built (`envsubst` with the names listed here,
so no other `$` is touched), then applies them. The sizing stays in one place,
`infra/environments/<env>.tfvars`, which the conformance check compares with the plan.
"""

from __future__ import annotations

from .render_text import TEMPLATES, _Template

SERVING_MANIFEST = "deploy/kubernetes/serving.yaml"
LOAD_TEST_MANIFEST = "deploy/kubernetes/load-test.yaml"
#: Example values of every `${NAME}` (prod's, from the plan): for a local render, and what the
#: validators check the manifests with.
EXAMPLES = "deploy/kubernetes/example.env"
#: k6's image for the in-cluster load test (the release `grafana/setup-k6-action` installs elsewhere).
K6_IMAGE = "grafana/k6:0.54.0"
#: Manifest value -> the serving module's root output it comes from (IMAGE is the built image).
SERVING_VALUES: dict[str, str] = {
    "NAMESPACE": "serving_online_namespace",
    "DEPLOYMENT": "serving_online_deployment_name",
    "MIN_REPLICAS": "serving_online_min_replicas",
    "MAX_REPLICAS": "serving_online_max_replicas",
    "CPU": "serving_online_cpu",
    "MEMORY": "serving_online_memory",
    "MODEL_URI": "serving_online_model_uri",
    "METRICS_NAMESPACE": "serving_online_metrics_namespace",
    "IDENTITY": "serving_online_identity",
}
LOAD_VALUES = ("JOB", "NAMESPACE", "DEPLOYMENT", "RATE", "P95_MS", "MAX_ERROR_RATE", "DURATION")

#: How each cloud's pods receive their cloud identity (EKS Pod Identity needs nothing in the manifests:
#: the association names the namespace and service account).
_ACCOUNT_ANNOTATIONS = {
    "aws": "",
    "gcp": "\n  annotations:\n    iam.gke.io/gcp-service-account: ${IDENTITY}",
    "azure": "\n  annotations:\n    azure.workload.identity/client-id: ${IDENTITY}",
}
_POD_LABELS = {"aws": "", "gcp": "", "azure": '\n        azure.workload.identity/use: "true"'}
_GPU = '\n              nvidia.com/gpu: "1"'


def envsubst_names(names: tuple[str, ...] | list[str]) -> str:
    """envsubst's SHELL-FORMAT argument, double-quoted for the shell: only these variables are replaced."""
    return '"' + " ".join(f"\\${n}" for n in names) + '"'


def example_values(cloud: str, slug: str, sizing: dict[str, object], rps: float | None,
                   p95_ms: float | None) -> dict[str, str]:
    """What the workflow would fill in for prod: the plan's sizing, the names Terraform gives, and
    stand-ins for what only the cloud knows (the image digest, the pods' identity)."""
    prefix = f"{slug}-prod"
    model_uri = {"aws": f"s3://{prefix}-data-123456789012/models", "gcp": f"gs://{prefix}-data-example/models",
                 "azure": "abfs://models@examplelake.dfs.core.windows.net"}[cloud]
    identity = {"aws": "", "gcp": f"{slug}-pod@example-project.iam.gserviceaccount.com",
                "azure": "00000000-0000-0000-0000-000000000000"}[cloud]
    return {"IMAGE": f"registry.example.com/{slug}/service@sha256:{'0' * 64}", "NAMESPACE": prefix,
            "DEPLOYMENT": f"{prefix}-api", "MIN_REPLICAS": str(sizing.get("replicas", 2)),
            "MAX_REPLICAS": str(sizing.get("max_replicas", 3)), "CPU": str(sizing.get("vcpu", 2)),
            "MEMORY": f"{sizing.get('mem_gb', 4)}Gi", "MODEL_URI": model_uri, "METRICS_NAMESPACE": f"{prefix}/model",
            "IDENTITY": identity, "JOB": "load-test-1-1", "RATE": f"{rps or 50:g}", "P95_MS": f"{p95_ms or 200:g}",
            "MAX_ERROR_RATE": "0.01", "DURATION": "5m"}


def render_manifests(cloud: str, gpu: bool, examples: dict[str, str]) -> dict[str, str]:
    """The serving manifests, the in-cluster load test and their example values, for `cloud` (its pod
    identity) and the plan's accelerator (a GPU per pod when the plan serves on GPUs)."""
    serving = _Template((TEMPLATES / "kubernetes" / "serving.yaml").read_text(encoding="utf-8")).substitute(
        account_annotations=_ACCOUNT_ANNOTATIONS[cloud], pod_labels=_POD_LABELS[cloud], gpu_request=_GPU if gpu else "")
    load = _Template((TEMPLATES / "kubernetes" / "load-test.yaml").read_text(encoding="utf-8")).substitute(
        k6_image=K6_IMAGE)
    head = ("# Example values of the ${NAME}s in serving.yaml and load-test.yaml: prod's sizing from the plan,\n"
            "# stand-ins for what only the cloud knows. deploy.yml takes the real ones from `terraform output`\n"
            "# and its build. To see a manifest as it will be applied:\n"
            "#   set -a; . deploy/kubernetes/example.env; set +a\n"
            "#   envsubst < deploy/kubernetes/serving.yaml | kubectl apply --dry-run=server -f -\n")
    env = head + "".join(f"{k}={v}\n" for k, v in examples.items() if v)
    return {SERVING_MANIFEST: serving, LOAD_TEST_MANIFEST: load, EXAMPLES: env}


#: Each repository variable naming the team's cluster -> the root variable the workflows pass it as.
CLUSTER_ROOT_VARIABLES = {"K8S_CLUSTER_NAME": "existing_cluster_name", "K8S_CLUSTER_LOCATION": "existing_cluster_location",
                          "K8S_CLUSTER_RESOURCE_GROUP": "existing_cluster_resource_group"}
#: Repository variables naming the team's cluster, per cloud (the deploy guide lists them).
CLUSTER_VARIABLES: dict[str, list[tuple[str, str]]] = {
    "aws": [("K8S_CLUSTER_NAME", "name of your EKS cluster the inference API runs on (in each environment's "
             "account and the primary region)")],
    "gcp": [("K8S_CLUSTER_NAME", "name of your GKE cluster the inference API runs on (in each environment's "
             "project)"),
            ("K8S_CLUSTER_LOCATION", "optional: its region or zone, when not the primary region")],
    "azure": [("K8S_CLUSTER_NAME", "name of your AKS cluster the inference API runs on"),
              ("K8S_CLUSTER_RESOURCE_GROUP", "its resource group")],
}

_PREREQUISITES: dict[str, list[str]] = {
    "aws": [
        "The cluster runs the EKS Pod Identity Agent add-on (`aws eks create-addon --cluster-name <cluster> "
        "--addon-name eks-pod-identity-agent`), through which the pods receive the role `infra/` makes for them.",
        "Its authentication mode admits access entries (`API` or `API_AND_CONFIG_MAP`): `infra/` gives the "
        "environment's deploy role edit rights in its namespace, and nowhere else.",
        "The nodes' role may pull from the bootstrap's ECR repository (`AmazonEC2ContainerRegistryReadOnly`, "
        "which EKS node groups have by default).",
        "The cluster ships container logs to CloudWatch Logs (Container Insights or Fluent Bit): the serving "
        "metrics are embedded-metric-format lines, which become the metrics the alarms watch there.",
    ],
    "gcp": [
        "The cluster is in the environment's project, with Workload Identity on "
        "(`--workload-pool=<project>.svc.id.goog`): the pods act as the service account `infra/` makes for them.",
        "The nodes' service account may read the bootstrap's Artifact Registry repository "
        "(`roles/artifactregistry.reader`).",
        "The deploy identity applies the manifests with `roles/container.developer`, which `infra/bootstrap/` "
        "grants in the environment's project; narrow it with RBAC if the cluster is shared.",
        "Cloud Logging collects the pods' logs (the GKE default), from which the alerts are counted.",
    ],
    "azure": [
        "The cluster has its OIDC issuer and workload identity on (`az aks update -g <group> -n <cluster> "
        "--enable-oidc-issuer --enable-workload-identity`) and Azure RBAC for Kubernetes authorisation.",
        "Each environment's deploy identity may read the cluster and apply in its namespace: `Reader` and "
        "`Azure Kubernetes Service Cluster User Role` on the cluster, `Azure Kubernetes Service RBAC Writer` "
        "on `<cluster id>/namespaces/<namespace>` (`az role assignment create --assignee <client id> --role "
        "<role> --scope <scope>`); the plan identities need `Reader` on the cluster. `infra/` lets the "
        "cluster's kubelet identity pull from the bootstrap's registry.",
        "Container Insights is on: the alerts read the pods' lines in `ContainerLogV2`.",
    ],
}


def deploy_section(cloud: str, slug: str) -> list[str]:
    """The deploy guide's section on serving in the team's cluster: what runs where, and what the
    cluster needs before the first deploy."""
    namespaces = ", ".join(f"`{slug}-{env}`" for env in ("dev", "staging", "prod"))
    lines = [
        "## Serving on your Kubernetes cluster", "",
        f"The inference API runs in your cluster, in one namespace per environment ({namespaces}): "
        f"`{SERVING_MANIFEST}` holds its Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget and "
        "NetworkPolicy. `infra/` makes the pods' cloud identity, lets it read the model registry and outputs the "
        "environment's sizing (from `infra/environments/<env>.tfvars`); `deploy.yml` applies the manifests with "
        "those values and the image it built, waits for the rollout, and smoke-tests the pods through a "
        f"port-forward. The staging load test runs as a Job in the namespace (`{LOAD_TEST_MANIFEST}`). The "
        "Service is internal (`ClusterIP`, port 80): route your ingress to it as you do for your other services.",
        "", "Before the first deploy, as a cluster administrator, create each namespace for the `restricted` "
        "Pod Security Standard:", "", "```sh",
        *(f"kubectl create namespace {slug}-{env} && kubectl label namespace {slug}-{env} "
          "pod-security.kubernetes.io/enforce=restricted" for env in ("dev", "staging", "prod")),
        "```", "", "and check that:", "",
        *(f"- {p}" for p in _PREREQUISITES[cloud]),
    ]
    return lines
