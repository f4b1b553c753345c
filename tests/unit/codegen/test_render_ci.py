"""Generated GitHub Actions: valid YAML, pinned actions, OIDC, promotion with approval on prod."""

from __future__ import annotations

import re

import yaml


def _load(text: str) -> dict:
    doc = yaml.safe_load(text)
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the `on` key as a boolean
    return doc


def _steps(doc: dict) -> list[dict]:
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def test_workflows_are_valid_yaml_with_jobs(rendered):
    for name, files in rendered.items():
        for wf in ("ci", "deploy"):
            doc = _load(files[f".github/workflows/{wf}.yml"])
            assert doc["name"] == wf and doc["on"] and doc["jobs"], name
            for job in doc["jobs"].values():
                assert job["runs-on"] == "ubuntu-latest"
                assert all("uses" in s or "run" in s for s in job["steps"])


def test_ci_lints_tests_and_checks_terraform(rendered):
    for name, files in rendered.items():
        text = files[".github/workflows/ci.yml"]
        for needle in ("make lint", "make train test", "terraform fmt -check -recursive", "terraform validate",
                       "terraform plan"):
            assert needle in text, f"{name}: ci.yml lacks {needle}"
        doc = _load(text)
        assert doc["jobs"]["terraform"]["permissions"]["id-token"] == "write"


def test_deploy_promotes_dev_staging_prod_with_prod_approval(rendered):
    for name, files in rendered.items():
        doc = _load(files[".github/workflows/deploy.yml"])
        jobs = doc["jobs"]
        assert {"dev", "staging", "prod"} <= set(jobs), name
        assert "image" in jobs["dev"]["needs"]
        assert "dev" in jobs["staging"]["needs"]
        assert "staging" in jobs["prod"]["needs"]
        for env in ("dev", "staging", "prod"):
            assert jobs[env]["environment"]["name"] == env
        assert "required reviewers" in files[".github/workflows/deploy.yml"].lower()
        assert "required reviewers" in files["docs/README.md"]


def test_actions_are_pinned_to_a_major_version(rendered):
    for name, files in rendered.items():
        for wf in ("ci", "deploy"):
            for step in _steps(_load(files[f".github/workflows/{wf}.yml"])):
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), f"{name}: {step['uses']}"


def test_cloud_auth_is_oidc_through_secrets(rendered):
    expected = {"aws": "aws-actions/configure-aws-credentials@v6", "gcp": "google-github-actions/auth@v3",
                "azure": "azure/login@v3"}
    for name, files in rendered.items():
        cloud = name.split("_")[0]
        text = files[".github/workflows/deploy.yml"]
        assert expected[cloud] in text
        for line in text.splitlines():
            if re.search(r"(role-to-assume|client-id|workload_identity_provider):", line):
                assert "${{ secrets." in line, line


def test_backend_values_come_from_variables(rendered):
    for files in rendered.values():
        text = files[".github/workflows/deploy.yml"]
        assert "-backend-config=" in text
        for env in ("dev", "staging", "prod"):
            assert f"environments/{env}.tfvars" in text
            assert f"infra/environments/{env}.tfvars" in files
