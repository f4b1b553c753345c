"""The renderer is deterministic, fast, and shapes the repository the brief describes."""

from __future__ import annotations

import re

import pytest
from amp_contracts import Component, ConstraintSchema, Plan

from services.codegen.render import render_repository
from services.codegen.render_text import slugify


def test_same_inputs_give_identical_output(render, plans):
    for name in plans:
        assert render(name) == render(name)


def test_paths_are_sorted_and_relative(rendered):
    for files in rendered.values():
        assert list(files) == sorted(files)
        assert all(not p.startswith("/") and ".." not in p.split("/") for p in files)
        assert all(text.endswith("\n") for text in files.values())


def test_expected_layout(rendered):
    files = rendered["aws_online_pci"]
    for path in [
        "README.md", "Makefile", ".gitignore", "pyproject.toml", "plan.md",
        "infra/versions.tf", "infra/providers.tf", "infra/backend.tf", "infra/variables.tf", "infra/main.tf",
        "infra/outputs.tf", "infra/modules/serving_online/main.tf", "infra/modules/serving_online/variables.tf",
        "infra/modules/serving_online/outputs.tf", "services/serving/app.py", "services/training/train.py",
        "services/serving/tests/test_app.py", "services/training/tests/test_train.py", "data/sample.csv",
        "features/definitions.py", ".github/workflows/ci.yml", ".github/workflows/deploy.yml",
        "docs/README.md", "docs/architecture.md", "docs/design-rationale.md", "reports/cost.json",
        "reports/policy.json",
    ]:
        assert path in files, path
    assert "pipelines/batch_score.py" not in files
    assert "pipelines/stream_consumer.py" not in files


def test_pipelines_follow_the_plan(rendered):
    batch = rendered["gcp_batch_serverless"]
    assert "pipelines/batch_score.py" in batch and "pipelines/stream_consumer.py" not in batch
    assert "features/definitions.py" not in batch
    stream = rendered["gcp_streaming"]
    assert "pipelines/stream_consumer.py" in stream and "features/definitions.py" in stream


def test_one_module_per_capability(rendered, plans):
    for name, files in rendered.items():
        plan, _ = plans[name]()
        modules = {p.split("/")[2] for p in files if p.startswith("infra/modules/")}
        assert modules == {c.capability for c in plan.components}


def test_sample_data_follows_the_requirement(rendered):
    lines = rendered["aws_online_pci"]["data/sample.csv"].splitlines()
    assert lines[0].endswith("is_fraud")
    positives = sum(line.endswith(",1") for line in lines[1:])
    assert 0.005 <= positives / (len(lines) - 1) <= 0.02  # fraud is rare: about one in a hundred
    assert rendered["azure_batch_serverless"]["data/sample.csv"].splitlines()[0].endswith("readmitted_30d")
    assert rendered["gcp_streaming"]["data/sample.csv"].splitlines()[0].endswith("is_anomaly")
    assert rendered["aws_streaming_serverless"]["data/sample.csv"].splitlines()[0].endswith("units_sold")


def test_project_name_is_slugified_for_resources(rendered):
    variables = rendered["aws_online_pci"]["infra/variables.tf"]
    assert 'default     = "acme-aws-online-pci"' in variables
    assert slugify("  Hello, World!! ") == "hello-world"
    assert slugify("123 go") == "p-123-go"
    assert slugify("") == "mlops"
    assert len(slugify("x" * 100)) <= 24
    assert slugify("Real-time card fraud scoring API on") == "real-time-card-fraud"  # never mid-word
    assert slugify("customer lifetime value estimation") == "customer-lifetime-value"
    for text in ("Nightly demand forecasts for 2,000 stores", "Ad click prediction on AWS in us-east-1"):
        words = set(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())
        assert all(part in words for part in slugify(text).split("-")), slugify(text)


def test_unsupported_cloud_and_empty_plan_are_rejected():
    constraints = ConstraintSchema()
    with pytest.raises(ValueError):
        render_repository(Plan(cloud="oracle", regions=["x"], components=[]), constraints, None, None, [], [], "p")
    with pytest.raises(ValueError):
        render_repository(Plan(cloud="aws", regions=["us-east-1"], components=[]), constraints, None, None, [], [], "p")


def test_minimal_inputs_render(tmp_path):
    plan = Plan(cloud="aws", regions=[], components=[
        Component(capability="serving_online", pattern_id="aws:serving_online:custom-thing", deployment="managed"),
    ])
    files = render_repository(plan, ConstraintSchema(), None, None, [], [], "x")
    assert "reports/cost.json" not in files
    assert "infra/modules/serving_online/main.tf" in files
    assert "Not estimated." in files["plan.md"]
