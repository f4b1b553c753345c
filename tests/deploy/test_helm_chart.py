"""The Helm chart, rendered by Helm's own engine and checked against the Kubernetes schemas
(kubernetes-validate, strict) and KEDA's CRD schema (vendored), then against what the platform needs."""

from __future__ import annotations

import copy

import jsonschema
import kubernetes_validate
import pytest
from deploy_helpers import (
    CHART,
    K8S_VERSIONS,
    REQUIRED_VALUES,
    by_kind,
    consumers,
    env_of,
    keda_schema,
    render,
    services,
    settings_env_names,
)

MONITORING_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}

VARIANTS = {
    "defaults": {},
    "no-keda": {"keda": {"enabled": False}},
    "external-nats": {"nats": {"enabled": False, "streamReplicas": 1}},
    "ingress-and-minio": {"gateway": {"ingress": {"enabled": True, "className": "nginx", "tlsSecretName": "tls"}},
                          "config": {"s3": {"endpointUrl": "http://minio:9000",
                                            "publicEndpointUrl": "https://s3.example.com", "region": "us-east-1"}},
                          "networkPolicy": {"gatewayFrom": [{"namespaceSelector": {"matchLabels": {
                              "kubernetes.io/metadata.name": "ingress-nginx"}}}]}},
    "monitoring": {"metrics": {"scrapeFrom": [MONITORING_PEER],
                               "podMonitor": {"enabled": True, "labels": {"release": "kps"},
                                              "gatewayToken": {"secretName": "amp-scrape", "key": "token"}}}},
}


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return render()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_is_valid_for_kubernetes(variant: str) -> None:
    rendered = render(VARIANTS[variant])
    assert rendered
    for doc in rendered:
        if doc["apiVersion"].startswith("keda.sh/"):
            jsonschema.validate(doc, keda_schema())
            continue
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):  # checked field by field below
            continue
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_checks_are_not_vacuous(docs) -> None:
    deployment = copy.deepcopy(next(d for d in docs if d["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["prot"] = 8080
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)
    scaled = copy.deepcopy(next(d for d in docs if d["kind"] == "ScaledObject"))
    scaled["spec"]["minReplicaCount"] = "one"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scaled, keda_schema())


def test_helm_lint_has_no_errors() -> None:
    import helm_python as helm

    result = helm.lint(str(CHART), values=REQUIRED_VALUES)
    assert not result["errors"], result


def _deployments(docs) -> dict[str, dict]:
    return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in docs if d["kind"] == "Deployment"}


def test_a_deployment_per_agent_and_the_gateway_with_probes_and_resources(docs) -> None:
    deps = _deployments(docs)
    assert set(deps) == set(services())
    for component, dep in deps.items():
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        cmd = c["command"]
        assert cmd[:3] == ["amp", "serve", component] and "args" not in c
        assert c["readinessProbe"] and c["livenessProbe"] and c["startupProbe"]
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
        assert c["resources"]["limits"]["memory"]
        if component != "gateway":
            assert cmd[cmd.index("--health-port") + 1] == "8080"
            assert c["readinessProbe"]["httpGet"]["path"] == "/healthz"
            assert cmd[cmd.index("--host") + 1] == "0.0.0.0"  # probes come from the kubelet
        assert c["securityContext"]["readOnlyRootFilesystem"] and not c["securityContext"]["allowPrivilegeEscalation"]
        assert pod["securityContext"]["runAsNonRoot"] and pod["automountServiceAccountToken"] is False
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert all(v.get("emptyDir") is not None for v in pod["volumes"]), "pods keep nothing that outlives them"
        assert mounts == {"/tmp", "/var/lib/amp"}


def test_a_disruption_budget_per_deployment(docs) -> None:
    pdbs = by_kind(docs, "PodDisruptionBudget")
    for dep in by_kind(docs, "Deployment").values():
        match = [p for p in pdbs.values()
                 if p["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]]
        assert len(match) == 1, dep["metadata"]["name"]
        assert match[0]["spec"].get("maxUnavailable") == 1  # a single replica can still be drained


def test_secrets_only_by_reference(docs) -> None:
    assert not by_kind(docs, "Secret")
    for dep in [*by_kind(docs, "Deployment").values(), *by_kind(docs, "Job").values()]:
        for c in dep["spec"]["template"]["spec"]["containers"]:
            env = env_of(c)
            assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "amp-secrets"
            for e in env.values():
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                assert ref is None or ref["name"] == "amp-secrets"
                if e["name"] in ("ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "DATABASE_URL"):
                    assert "value" not in e


def test_refuses_to_render_without_a_secret_or_a_bucket() -> None:
    with pytest.raises(Exception, match="existingSecret is required"):
        render({"config": {"s3": {"bucket": "b"}}}, required=False)
    with pytest.raises(Exception, match="config.s3.bucket is required"):
        render({"existingSecret": "s"}, required=False)


def test_migrations_are_a_pre_install_and_pre_upgrade_hook(docs) -> None:
    (job,) = by_kind(docs, "Job").values()
    hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
    assert hooks == {"pre-install", "pre-upgrade"}
    (c,) = job["spec"]["template"]["spec"]["containers"]
    assert c["command"] == ["amp", "db", "upgrade"]
    # hooks run before the release's other objects exist: nothing of the release may be referenced
    assert "serviceAccountName" not in job["spec"]["template"]["spec"]
    assert all("configMapRef" not in str(e) for e in c.get("env", []))


def test_a_scaled_object_per_agent_on_its_consumers_lag(docs) -> None:
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in by_kind(docs, "ScaledObject").values()}
    deps = _deployments(docs)
    expected = consumers()
    assert set(scaled) == {deps[a]["metadata"]["name"] for a in expected}
    statefulset = next(iter(by_kind(docs, "StatefulSet").values()))
    for agent, durables in expected.items():
        so = scaled[deps[agent]["metadata"]["name"]]
        triggers = so["spec"]["triggers"]
        assert {t["type"] for t in triggers} == {"nats-jetstream"}
        assert {t["metadata"]["consumer"] for t in triggers} == durables
        for t in triggers:
            assert t["metadata"]["stream"] == "AMP" and t["metadata"]["account"] == "$G"
            host, port = t["metadata"]["natsServerMonitoringEndpoint"].rsplit(":", 1)
            assert port == "8222" and host.startswith(statefulset["spec"]["serviceName"] + ".")
        assert "replicas" not in deps[agent]["spec"], "KEDA owns the replica count"


def test_min_and_max_replicas_are_values() -> None:
    docs = render({"agents": {"planner": {"replicas": {"min": 2, "max": 9}}},
                   "agentDefaults": {"replicas": {"min": 0, "max": 3}}})
    scaled = {s["metadata"]["labels"]["app.kubernetes.io/component"]: s["spec"]
              for s in by_kind(docs, "ScaledObject").values()}
    assert (scaled["planner"]["minReplicaCount"], scaled["planner"]["maxReplicaCount"]) == (2, 9)
    assert (scaled["intake"]["minReplicaCount"], scaled["intake"]["maxReplicaCount"]) == (0, 3)
    # codegen's own minimum wins over the default (it sweeps approval gates)
    assert scaled["codegen"]["minReplicaCount"] == 1
    with pytest.raises(Exception, match="min 4 is above max 2"):
        render({"agents": {"critics": {"replicas": {"min": 4, "max": 2}}}})


def test_without_keda_deployments_run_the_minimum(docs) -> None:
    rendered = render({"keda": {"enabled": False}, "agents": {"policy": {"replicas": {"min": 3}}}})
    assert not by_kind(rendered, "ScaledObject")
    assert _deployments(rendered)["policy"]["spec"]["replicas"] == 3


def test_nats_cluster_of_three_with_stream_replicas_three(docs) -> None:
    (sts,) = by_kind(docs, "StatefulSet").values()
    assert sts["spec"]["replicas"] == 3
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    args = c["args"]
    assert "--jetstream" in args
    routes = next(a for a in args if a.startswith("--routes=")).removeprefix("--routes=").split(",")
    assert len(routes) == 3 and all(r.endswith(":6222") for r in routes)
    assert any(a.startswith("--client_advertise=$(POD_NAME).") for a in args)  # the KEDA scaler follows it
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    anti = sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"]
    for dep in by_kind(docs, "Deployment").values():
        env = env_of(dep["spec"]["template"]["spec"]["containers"][0])
        assert env["AMP_STREAM_REPLICAS"]["value"] == "3"
        assert env["NATS_URL"]["value"].startswith("nats://") and env["NATS_URL"]["value"].endswith(":4222")
    with pytest.raises(Exception, match="cannot exceed nats.replicas"):
        render({"nats": {"replicas": 1, "streamReplicas": 3}})


def test_external_nats_comes_from_the_secret() -> None:
    rendered = render({"nats": {"enabled": False, "streamReplicas": 1}})
    assert not by_kind(rendered, "StatefulSet")
    for dep in by_kind(rendered, "Deployment").values():
        env = env_of(dep["spec"]["template"]["spec"]["containers"][0])
        assert env["NATS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "amp-secrets", "key": "NATS_URL"}
        assert env["AMP_STREAM_REPLICAS"]["value"] == "1"


def test_network_policies_isolate_agents_and_nats(docs) -> None:
    policies = by_kind(docs, "NetworkPolicy")
    services_policy = next(p for p in policies.values() if p["metadata"]["name"].endswith("-services"))
    assert services_policy["spec"]["ingress"] == [] and "Ingress" in services_policy["spec"]["policyTypes"]
    nats_policy = next(p for p in policies.values() if p["metadata"]["name"].endswith("-nats"))
    client_rule = next(r for r in nats_policy["spec"]["ingress"] if {"port": 4222, "protocol": "TCP"} in r["ports"])
    assert client_rule["from"][0]["podSelector"]["matchLabels"] == {"app.kubernetes.io/instance": "prod"}
    keda_rule = next(r for r in nats_policy["spec"]["ingress"] if "namespaceSelector" in r["from"][0])
    assert keda_rule["ports"] == [{"port": 8222, "protocol": "TCP"}]
    gateway_policy = next(p for p in policies.values() if p["metadata"]["name"].endswith("-gateway"))
    assert gateway_policy["spec"]["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_only_settings_the_code_reads(docs) -> None:
    known = settings_env_names()
    for dep in by_kind(docs, "Deployment").values():
        for name in env_of(dep["spec"]["template"]["spec"]["containers"][0]):
            if name.startswith("AMP_"):
                assert name in known, f"{name} is set by the chart but no code reads it"


def _ports(dep: dict) -> dict[str, int]:
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return {p["name"]: p["containerPort"] for p in c["ports"]}


def test_agents_pods_say_where_prometheus_scrapes_them_and_the_gateway_pods_do_not(docs) -> None:
    deps = _deployments(docs)
    for component, dep in deps.items():
        notes = dep["spec"]["template"]["metadata"].get("annotations") or {}
        if component == "gateway":  # its /metrics wants a token, which an annotation-driven scrape lacks
            assert not any(k.startswith("prometheus.io/") for k in notes), notes
            continue
        assert notes["prometheus.io/scrape"] == "true"
        assert notes["prometheus.io/path"] == "/metrics"
        assert int(notes["prometheus.io/port"]) == _ports(dep)["health"], component
    off = _deployments(render({"metrics": {"podAnnotations": False}}))
    assert not any((d["spec"]["template"]["metadata"].get("annotations") or {}) for d in off.values())


def test_scrapers_reach_the_agents_only_when_named(docs) -> None:
    policy = by_kind(docs, "NetworkPolicy")["prod-amp-services"]
    assert policy["spec"]["ingress"] == []
    opened = by_kind(render(VARIANTS["monitoring"]), "NetworkPolicy")["prod-amp-services"]
    (rule,) = opened["spec"]["ingress"]
    assert rule["from"] == [MONITORING_PEER]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_pod_monitors_scrape_every_service_on_its_metrics_port() -> None:
    docs = render(VARIANTS["monitoring"])
    assert not by_kind(render(), "PodMonitor")
    monitors = by_kind(docs, "PodMonitor")
    assert set(monitors) == {"prod-amp-agents", "prod-amp-gateway"}
    deps = _deployments(docs)
    agents = monitors["prod-amp-agents"]
    assert agents["metadata"]["labels"]["release"] == "kps"
    excluded = next(e for e in agents["spec"]["selector"]["matchExpressions"]
                    if e["key"] == "app.kubernetes.io/component")
    assert excluded == {"key": "app.kubernetes.io/component", "operator": "NotIn", "values": ["gateway", "nats"]}
    (ep,) = agents["spec"]["podMetricsEndpoints"]
    assert ep["path"] == "/metrics"
    for component, dep in deps.items():
        if component != "gateway":
            assert ep["port"] in _ports(dep), component
    gateway = monitors["prod-amp-gateway"]
    labels = deps["gateway"]["spec"]["template"]["metadata"]["labels"]
    assert all(labels[k] == v for k, v in gateway["spec"]["selector"]["matchLabels"].items())
    (gep,) = gateway["spec"]["podMetricsEndpoints"]
    assert gep["port"] in _ports(deps["gateway"])
    assert gep["authorization"] == {"type": "Bearer", "credentials": {"name": "amp-scrape", "key": "token"}}
    no_token = by_kind(render({"metrics": {"podMonitor": {"enabled": True}}}), "PodMonitor")
    assert set(no_token) == {"prod-amp-agents"}
