"""Every plain manifest in deploy/kubernetes/ is valid Kubernetes (strict schemas, offline)."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml
from deploy_helpers import DEPLOY, K8S_VERSIONS, services

MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.y*ml"))


def test_there_are_manifests() -> None:
    assert MANIFESTS


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifest_is_valid(path, version: str) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs, f"{path.name} holds no object"
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_plain_manifest_runs_every_service_with_a_probe() -> None:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "amp.yaml").read_text()) if d]
    deployments = {d["metadata"]["labels"]["service"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == set(services())
    for name, dep in deployments.items():
        (c,) = dep["spec"]["template"]["spec"]["containers"]
        assert c["command"][:3] == ["amp", "serve", name] and c["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_the_plain_manifest_lets_prometheus_find_every_agent() -> None:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "amp.yaml").read_text()) if d]
    for dep in (d for d in docs if d["kind"] == "Deployment"):
        name = dep["metadata"]["labels"]["service"]
        notes = dep["spec"]["template"]["metadata"].get("annotations") or {}
        if name == "gateway":  # /metrics there wants a token: scrape it with a job that has one
            assert "prometheus.io/scrape" not in notes
            continue
        (c,) = dep["spec"]["template"]["spec"]["containers"]
        assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/path"] == "/metrics"
        assert int(notes["prometheus.io/port"]) in {p["containerPort"] for p in c["ports"]}, name
