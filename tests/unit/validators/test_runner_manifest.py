"""The Kubernetes manifest of the validation runner keeps its promises: nothing to steal, nowhere to go."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes" / "validation-runner.yaml"


def docs() -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all(MANIFEST.read_text())}


def test_the_runner_holds_no_secret_and_no_token() -> None:
    d = docs()
    pod = d["Deployment"]["spec"]["template"]["spec"]
    assert d["ServiceAccount"]["automountServiceAccountToken"] is False
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    for c in pod["containers"]:
        assert "envFrom" not in c
        assert all("valueFrom" not in e for e in c.get("env", []))
    assert not [v for v in pod.get("volumes", []) if "secret" in v or "projected" in v]


def test_the_runner_is_confined() -> None:
    pod = docs()["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["hostUsers"] is False
    for c in pod["containers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
        assert "privileged" not in sc and c["resources"]["limits"]["memory"]
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_egress_is_denied_and_only_the_validators_may_call() -> None:
    d = docs()
    policy = d["NetworkPolicy"]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"} and policy["egress"] == []
    assert policy["podSelector"]["matchLabels"] == d["Deployment"]["spec"]["selector"]["matchLabels"]
    (rule,) = policy["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app": "amp", "service": "validators"}}}]


def test_the_validators_send_their_untrusted_runs_to_it() -> None:
    platform = {d["metadata"]["name"]: d for d in yaml.safe_load_all((MANIFEST.parent / "amp.yaml").read_text())}
    (container,) = platform["amp-validators"]["spec"]["template"]["spec"]["containers"]
    assert {"name": "AMP_SANDBOX_RUNNER_URL", "value": "http://amp-validation-runner:8080"} in container["env"]
