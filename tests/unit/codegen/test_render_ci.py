"""Generated GitHub Actions: valid YAML, pinned actions, plan shown then applied, images by digest."""

from __future__ import annotations

import re

import yaml

from services.codegen.actions import ACTIONS, PINNED
from services.codegen.cicd_names import ENVIRONMENTS
from services.codegen.serving_access import serving_access

WORKFLOWS = ("ci", "deploy")


def _load(text: str) -> dict:
    doc = yaml.safe_load(text)
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the `on` key as a boolean
    return doc


def _workflows(files: dict[str, str]) -> dict[str, dict]:
    return {p: _load(t) for p, t in files.items() if p.startswith(".github/workflows/")}


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in _steps(job))


def test_workflows_are_valid_yaml_with_jobs(rendered):
    for name, files in rendered.items():
        docs = _workflows(files)
        assert {f".github/workflows/{w}.yml" for w in WORKFLOWS} <= set(docs), name
        for path, doc in docs.items():
            assert doc["name"] == path.rsplit("/", 1)[1].removesuffix(".yml") and doc["on"] and doc["jobs"], path
            for job in doc["jobs"].values():
                assert job["runs-on"]
                assert all("uses" in s or "run" in s for s in job["steps"])


def test_ci_lints_tests_checks_both_stacks_and_plans_every_environment(rendered):
    for name, files in rendered.items():
        text = files[".github/workflows/ci.yml"]
        for needle in ("make lint", "make train test", "terraform fmt -check -recursive infra",
                       "terraform -chdir=infra validate", "terraform -chdir=infra/bootstrap validate"):
            assert needle in text, f"{name}: ci.yml lacks {needle}"
        jobs = _load(text)["jobs"]
        for job_id in ("python", "terraform"):
            assert "permissions" not in jobs[job_id], f"{name}: {job_id} needs no cloud token"
        for env in ENVIRONMENTS:
            plan = jobs[f"plan-{env}"]
            assert plan["permissions"]["id-token"] == "write"
            assert "environment" not in plan, "a plan job runs outside environments: read-only identity"
            assert f"-var-file=environments/{env}.tfvars" in _runs(plan)
            assert "GITHUB_STEP_SUMMARY" in _runs(plan)


def test_deploy_plans_then_applies_exactly_that_plan_in_the_environment(rendered):
    for name, files in rendered.items():
        jobs = _load(files[".github/workflows/deploy.yml"])["jobs"]
        for env in ENVIRONMENTS:
            plan, apply = jobs[f"plan-{env}"], jobs[f"apply-{env}"]
            assert "environment" not in plan and apply["environment"] == env, name
            assert f"plan-{env}" in apply["needs"]
            plan_runs, apply_runs = _runs(plan), _runs(apply)
            assert f"-out={env}.tfplan" in plan_runs and "GITHUB_STEP_SUMMARY" in plan_runs
            uploaded = next(s for s in _steps(plan) if s.get("uses", "").startswith("actions/upload-artifact@"))
            downloaded = next(s for s in _steps(apply) if s.get("uses", "").startswith("actions/download-artifact@"))
            assert uploaded["with"]["name"] == downloaded["with"]["name"] == f"tfplan-{env}"
            assert f"infra/{env}.tfplan" in uploaded["with"]["path"]
            assert "terraform plan" not in apply_runs, f"{name}: apply-{env} must not re-plan"
            assert re.search(rf"terraform apply .*\b{env}\.tfplan$", apply_runs, re.MULTILINE), name
        assert "apply-dev" in jobs["plan-staging"]["needs"]
        assert set(jobs["plan-prod"]["needs"]) & {"apply-staging", "load-staging"}
        assert "required reviewers" in files[".github/workflows/deploy.yml"].lower()


def test_image_is_built_once_and_promoted_by_digest(rendered):
    for name, files in rendered.items():
        jobs = _load(files[".github/workflows/deploy.yml"])["jobs"]
        builds = [(j, s) for j, job in jobs.items() for s in _steps(job)
                  if s.get("uses", "").startswith("docker/build-push-action@")]
        assert [j for j, _ in builds] == ["build"], name
        assert "@${DIGEST}" in _runs(jobs["build"])
        if 'variable "container_image"' not in files["infra/variables.tf"]:
            continue  # the plan's runtime takes no image from CI (it deploys its own way)
        for env in ENVIRONMENTS:
            assert '-var "container_image=${{ needs.build.outputs.image }}"' in _runs(jobs[f"plan-{env}"]), name


def test_every_action_is_pinned_by_commit_from_the_table(rendered):
    for name, files in rendered.items():
        for path, doc in _workflows(files).items():
            for job in doc["jobs"].values():
                for step in _steps(job):
                    if "uses" not in step:
                        continue
                    assert PINNED.match(step["uses"]), f"{name}:{path}: {step['uses']} is not pinned by commit"
                    action, sha = step["uses"].split("@")
                    assert ACTIONS[action][0] == sha, f"{name}:{path}: {action} pinned off the table"


def test_pinned_references_keep_the_release_as_a_comment(rendered):
    text = rendered["aws_online_pci"][".github/workflows/deploy.yml"]
    for action, (sha, release) in ACTIONS.items():
        if f"{action}@" in text:
            assert f"{action}@{sha} # {release}" in text


def test_cloud_auth_is_oidc_with_no_stored_credentials(rendered):
    expected = {"aws": "aws-actions/configure-aws-credentials@", "gcp": "google-github-actions/auth@",
                "azure": "azure/login@"}
    for name, files in rendered.items():
        cloud = name.split("_")[0]
        for path, text in files.items():
            if not path.startswith(".github/workflows/"):
                continue
            assert "secrets." not in text, f"{name}:{path}: OIDC needs no stored secret"
            if "id-token: write" in text:
                assert expected[cloud] in text, f"{name}:{path}"


def test_backend_values_are_the_bootstrap_names(rendered):
    for name, files in rendered.items():
        text = files[".github/workflows/deploy.yml"]
        assert "-backend-config=" in text
        for env in ENVIRONMENTS:
            assert f"environments/{env}.tfvars" in text
            assert f"infra/environments/{env}.tfvars" in files
        assert "vars.TF_STATE_BUCKET" not in text, name


def test_staging_load_test_holds_the_stated_latency_and_rate(rendered, plans):
    for name, files in rendered.items():
        plan, constraints = plans[name]()
        jobs = _load(files[".github/workflows/deploy.yml"])["jobs"]
        if "serving_online" not in {c.capability for c in plan.components}:
            assert "load-staging" not in jobs, name
            continue
        env = next(s for s in _steps(jobs["load-staging"]) if "k6 run tests/load/k6.js" in s.get("run", ""))["env"]
        if constraints.sla_latency_ms:
            assert env["P95_MS"] == f"{constraints.sla_latency_ms:g}", name
        if constraints.throughput_rps:
            assert f"'{constraints.throughput_rps:g}'" in env["RATE"], name
        assert "tests/load/k6.js" in files and "tests/load/request.json" in files
        smoke, access = _runs(jobs["apply-staging"]), serving_access(plan)
        assert access.predict_path in smoke and access.ready_path in smoke, name  # "" where none is exposed
        assert access.ready_path or "/readyz" not in smoke, name


def test_ml_workflows_close_the_loop_through_the_evaluation_gate(rendered, plans):
    for name, files in rendered.items():
        plan, _ = plans[name]()
        if "training" not in {c.capability for c in plan.components}:
            assert ".github/workflows/promote.yml" not in files, name
            continue
        retrain = _load(files[".github/workflows/retrain.yml"])["jobs"]
        for job in retrain.values():
            step = next(s for s in _steps(job) if "services.training.train" in s.get("run", ""))
            assert {"DATA_URI", "MODEL_URI", "RUN_ID"} <= set(step["env"]), name
        for job_id, job in _load(files[".github/workflows/promote.yml"])["jobs"].items():
            assert job["environment"] in ENVIRONMENTS, job_id
            names = [s.get("name", "") for s in _steps(job)]
            gate = names.index("Evaluation gate")
            assert "jq -e '.gate.passed == true'" in _steps(job)[gate]["run"]
            writes = [i for i, s in enumerate(_steps(job)) if "registry.approve(" in s.get("run", "")]
            assert writes and min(writes) > gate, f"{name}: approved.json is written only after the gate"
        drift = _load(files[".github/workflows/drift.yml"])
        assert drift["on"]["schedule"] and drift["jobs"]["drift"]["environment"] == "drift"
        assert "FeatureDriftPSI" in files[".github/workflows/drift.yml"]


#: The object store's SDK each cloud's code needs for its URIs (services/common/storage.py).
SDK = {"aws": "boto3", "gcp": "google-cloud-storage", "azure": "azure-storage-blob"}


def test_the_model_workflows_install_the_object_stores_sdk(rendered, plans):
    """Training, promotion and drift read and write the registry in the cloud: `pip install -e .`
    left out the `cloud` extra, so retrain.yml failed on its first read and nothing could be approved."""
    checked = 0
    for name, files in rendered.items():
        cloud = plans[name]()[0].cloud
        extra = files["pyproject.toml"].split("cloud = [", 1)[1].split("]", 1)[0]
        assert SDK[cloud] in extra, name
        for path in (".github/workflows/retrain.yml", ".github/workflows/promote.yml", ".github/workflows/drift.yml"):
            if path not in files:
                continue
            installs = re.findall(r"pip install -e (\S+)", files[path])
            assert installs and set(installs) == {'".[cloud]"'}, (name, path, installs)
            checked += 1
    assert checked >= 9


def test_the_drift_job_writes_nothing_with_its_read_only_identity(rendered):
    """The drift identity reads the registry only; a RUN_ID made the job write its report there."""
    for name, files in rendered.items():
        if ".github/workflows/drift.yml" not in files:
            continue
        job = next(iter(_load(files[".github/workflows/drift.yml"])["jobs"].values()))
        psi = next(s for s in _steps(job) if s.get("id") == "psi")
        assert "RUN_ID" not in psi.get("env", {}), name
        keep = next(s for s in _steps(job) if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
        assert keep["with"]["path"] == "drift.json", name


def test_the_drift_value_is_written_to_the_environments_project(rendered, plans):
    """gcloud writes to its configured project, the CI project the identity comes from; the log
    metric and the alert live in the environment's project (GOOGLE_CLOUD_PROJECT)."""
    checked = 0
    for name, files in rendered.items():
        if plans[name]()[0].cloud != "gcp" or ".github/workflows/drift.yml" not in files:
            continue
        drift = files[".github/workflows/drift.yml"]
        assert "GOOGLE_CLOUD_PROJECT: ${{ vars.GCP_PROJECT_ID }}" in drift
        writes = [line for line in drift.splitlines() if "gcloud logging write" in line]
        assert writes and all('--project "$GOOGLE_CLOUD_PROJECT"' in line for line in writes), name
        checked += 1
    assert checked
