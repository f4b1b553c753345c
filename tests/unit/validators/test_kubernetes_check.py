"""The `kubernetes` check: manifests against the API's schemas, strictly, with their example values."""

from __future__ import annotations

from services.validators.checks.kubernetes import examples
from services.validators.checks.runner import validate_tree

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${DEPLOYMENT}
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: ${IMAGE}
          resources:
            limits: {cpu: "${CPU}"}
"""
ENV = "# example\nDEPLOYMENT=acme-prod-api\nIMAGE='registry.example.com/acme@sha256:00'\nCPU=2\n"


def _check(files: dict[str, str]):
    return validate_tree(files, checks=["kubernetes"]).tool("kubernetes")


def test_a_valid_manifest_filled_with_its_examples_passes():
    result = _check({"deploy/k8s/app.yaml": DEPLOYMENT, "deploy/k8s/example.env": ENV})
    assert result.status == "pass", result.findings
    assert "Kubernetes 1.30" in result.version


def test_a_field_the_api_does_not_know_fails():
    bad = DEPLOYMENT.replace("  selector:", "  replicaz: 2\n  selector:")
    result = _check({"deploy/k8s/app.yaml": bad, "deploy/k8s/example.env": ENV})
    assert result.status == "fail"
    assert [f.rule for f in result.findings] == ["schema"]
    assert "Deployment acme-prod-api" in result.findings[0].message and "replicaz" in result.findings[0].message


def test_a_value_of_the_wrong_type_fails():
    bad = DEPLOYMENT.replace("  selector:", "  replicas: two\n  selector:")
    result = _check({"deploy/k8s/app.yaml": bad, "deploy/k8s/example.env": ENV})
    assert result.status == "fail" and "spec.replicas" in result.findings[0].message


def test_a_value_filled_at_deploy_time_without_an_example_fails():
    result = _check({"deploy/k8s/app.yaml": DEPLOYMENT, "deploy/k8s/example.env": "DEPLOYMENT=x\n"})
    assert result.status == "fail"
    assert result.findings[0].rule == "value-without-example" and "CPU, IMAGE" in result.findings[0].message


def test_a_custom_resource_is_a_warning_not_a_failure():
    crd = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
    result = _check({"k8s/widget.yaml": crd})
    assert result.status == "pass" and [f.severity for f in result.findings] == ["warning"]


def test_workflows_and_trees_without_manifests_are_not_read_as_manifests():
    workflow = "name: ci\non: push\njobs: {}\n"
    result = _check({".github/workflows/ci.yml": workflow, "config/app.yaml": "kind: x\n"})
    assert result.status == "skipped" and result.reason


def test_example_lines_are_read_as_a_shell_would():
    assert examples("# c\nA=1\n B='x y' \nC=\"q\"\nnot a line\n") == {"A": "1", "B": "x y", "C": "q"}
