"""CI/CD, accounts and operations of the repository generated for every shared scenario on every cloud.

Each scenario's text goes through the real chain (extract -> plan -> critique -> estimate ->
policy) and is rendered for its own cloud and forced onto the others. Checked on each tree: the
OIDC trust (deploy identities trust their GitHub environment only, never a pull request), the
`names` validator (passes as generated, fails when one side of a shared name changes), every
action pinned by commit, every alarm's metric emitted, and a runbook entry per alarm.
"""

from __future__ import annotations

import re

import pytest
import yaml
from amp_domain.requirements.extraction import extract

from services.codegen.actions import PINNED
from services.codegen.metric_table import (
    DEAD_LETTERED,
    DRIFT,
    ERRORS,
    FAILED_BATCHES,
    ITERATOR_AGE,
    LATENCY,
    OFFSET_LAG,
    PREDICTIONS,
    UNACKED_AGE,
)
from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.critics.tech import critique
from services.planner.planning import compose_plan
from services.policy.engine import evaluate
from services.validators.checks import validate_tree
from services.validators.checks.names import consistency_findings
from tests.evaldata import scenarios

CLOUDS = ("aws", "gcp", "azure")
FORCED_REGION = {"aws": ["eu-west-1"], "gcp": ["europe-west4"], "azure": ["westeurope"]}
_SUBJECT = re.compile(r"repo:\$\{var\.github_repository\}:([a-z_]+)(?::([^\"]+))?")


@pytest.fixture(scope="module")
def trees() -> dict[str, tuple[dict[str, str], set[str], object]]:
    """`<scenario>__<cloud>` -> (files, planned capabilities, constraints)."""
    out = {}
    for scenario in scenarios():
        stated = extract(scenario["text"]).constraints
        for cloud in CLOUDS:
            constraints = stated if stated.cloud == cloud else stated.model_copy(
                update={"cloud": cloud, "regions": FORCED_REGION[cloud]})
            plan = compose_plan(constraints)
            files = render_repository(plan, constraints, estimate(plan, constraints),
                                      evaluate(constraints, plan, estimate(plan, constraints)),
                                      critique(plan, constraints), [], scenario["id"])
            out[f"{scenario['id']}__{cloud}"] = (files, {c.capability for c in plan.components}, constraints)
    return out


def _blocks(text: str, kind: str, label_part: str) -> list[str]:
    """Bodies of top-level blocks of `kind` whose name contains `label_part`."""
    heads = list(re.finditer(r'^(resource|data|locals)\b[^\n]*\{', text, re.MULTILINE))
    out = []
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        head = m[0]
        if head.startswith(kind) and label_part in head:
            out.append(text[m.start():end])
    return out


def test_every_scenario_renders_a_bootstrap_and_the_workflows(trees):
    assert len(trees) == len(scenarios()) * len(CLOUDS)
    for name, (files, caps, _) in trees.items():
        assert "infra/bootstrap/main.tf" in files, name
        for wf in ("ci", "deploy"):
            assert f".github/workflows/{wf}.yml" in files, name
        assert ("training" in caps) == (".github/workflows/promote.yml" in files), name


def test_deploy_identities_trust_their_environment_and_never_a_pull_request(trees):
    for name, (files, _, _) in trees.items():
        boot = files["infra/bootstrap/main.tf"]
        deploy = [b for b in (_blocks(boot, "data", "deploy_trust") + _blocks(boot, "resource", "deploy_federation")
                              + _blocks(boot, "resource", '"azurerm_federated_identity_credential" "deploy"'))]
        assert len(deploy) == 1, f"{name}: one deploy trust definition expected"
        subjects = _SUBJECT.findall(deploy[0])
        assert subjects and all(kind == "environment" for kind, _ in subjects), f"{name}: {subjects}"
        assert "pull_request" not in deploy[0], name
        plan_subjects = set(re.findall(r"repo:\$\{var\.github_repository\}:([a-z_:/.${}-]+)", boot)) - {
            f"environment:{v}" for _, v in subjects} - {"environment:${each.key}", "environment:drift"}
        assert plan_subjects == {"pull_request", "ref:refs/heads/main"}, f"{name}: {plan_subjects}"


def test_jobs_use_the_identity_of_their_environment(trees):
    role = re.compile(r"(?:role/|service_account: )([a-z0-9-]+)")
    for name, (files, _, _) in trees.items():
        for path, text in files.items():
            if not path.startswith(".github/workflows/"):
                continue
            jobs = yaml.safe_load(text)["jobs"]
            for job_id, job in jobs.items():
                dumped = yaml.safe_dump(job)
                env = job.get("environment")
                for identity in role.findall(dumped):
                    if env:
                        assert f"-{env}-" in identity and not identity.endswith("-plan"), (name, job_id, identity)
                    else:
                        assert identity.endswith("-plan"), (name, job_id, identity)


def test_names_check_passes_as_generated(trees):
    for name, (files, _, _) in trees.items():
        problems = [f"{f.rule} {f.path}: {f.message}" for f in consistency_findings(files)]
        assert not problems, f"{name}:\n" + "\n".join(problems)


def _mutations(files: dict[str, str], cloud: str) -> dict[str, tuple[dict[str, str], str]]:
    """One-sided renames, each with the rule the check must report."""
    out = {}
    deploy = files[".github/workflows/deploy.yml"]
    boot = files["infra/bootstrap/main.tf"]
    repo = re.search(r"IMAGE_REPOSITORY: .+", deploy)[0]
    # On Azure the registry is the resource; the repository inside it appears on first push.
    renamed = repo.replace(".azurecr.io", "x.azurecr.io") if cloud == "azure" else repo.replace("-service", "-svc")
    out["image repository renamed in the workflow"] = (
        {**files, ".github/workflows/deploy.yml": deploy.replace(repo, renamed)}, "name-not-created")
    if cloud == "aws":
        out["deploy role renamed in Terraform"] = (
            {**files, "infra/bootstrap/main.tf": boot.replace("-github-deploy", "-gh-deploy")}, "name-not-created")
        out["pull requests trusted to deploy"] = (
            {**files, "infra/bootstrap/main.tf": boot.replace(
                'values   = ["repo:${var.github_repository}:environment:${each.key}"]',
                'values   = ["repo:${var.github_repository}:environment:${each.key}", '
                '"repo:${var.github_repository}:pull_request"]')},
            "deploy-trusts-non-environment")
    if cloud == "gcp":
        out["workload identity pool renamed in Terraform"] = (
            {**files, "infra/bootstrap/main.tf": re.sub(r'workload_identity_pool_id = "([a-z0-9-]+)"',
                                                        r'workload_identity_pool_id = "\1x"', boot)},
            "name-not-created")
    read = re.search(r"terraform output -raw ([a-z0-9_]+)", deploy + files.get(".github/workflows/promote.yml", ""))
    if read:
        outputs = files["infra/outputs.tf"].replace(f'output "{read[1]}"', f'output "{read[1]}_renamed"')
        out["output renamed in Terraform"] = ({**files, "infra/outputs.tf": outputs}, "unknown-output")
    variables = files["infra/variables.tf"]
    if 'variable "alert_email"' in variables:
        out["variable renamed in Terraform"] = (
            {**files, "infra/variables.tf": variables.replace('variable "alert_email"', 'variable "oncall_email"')},
            "unknown-variable")
    return out


def test_names_check_fails_when_one_side_of_a_name_changes(trees):
    checked = set()
    for name, (files, _, _) in trees.items():
        cloud = name.rsplit("__", 1)[1]
        for what, (mutated, rule) in _mutations(files, cloud).items():
            rules = {f.rule for f in consistency_findings(mutated)}
            assert rule in rules, f"{name}: {what} went unnoticed (found {sorted(rules)})"
            checked.add(what)
    assert {"deploy role renamed in Terraform", "pull requests trusted to deploy",
            "workload identity pool renamed in Terraform", "output renamed in Terraform"} <= checked


def test_every_action_is_pinned_by_commit(trees):
    for name, (files, _, _) in trees.items():
        for path, text in files.items():
            if path.startswith(".github/workflows/"):
                for ref in re.findall(r"^\s*(?:- )?uses:\s*(\S+)", text, re.MULTILINE):
                    assert PINNED.match(ref), f"{name}:{path}: {ref}"


#: The clouds' own metrics of a stream consumer and its failure store: the wired input naming the resource.
_STREAM_METRICS = {FAILED_BATCHES.name: "failed_batches_queue_name", DEAD_LETTERED.name: "dead_letter_subscription",
                   ITERATOR_AGE.name: "stream_consumer_function", OFFSET_LAG.name: "stream_consumer_function",
                   UNACKED_AGE.name: "consumer_subscription"}
#: Azure Monitor's counts of a scheduled job's failed runs: the job's resource type and the wired input.
_JOB_METRICS = {"PipelineFailedRuns": ("azurerm_data_factory_pipeline", "data_factory_id"),
                "Executions": ("azurerm_container_app_job", "batch_job_id")}


def _alarmed_metrics(cloud: str, monitoring: str) -> set[str]:
    if cloud == "aws":
        return set(re.findall(r'metric_name\s*=\s*"([A-Za-z]+)"', monitoring))
    if cloud == "gcp":
        names = {"prediction_count": PREDICTIONS.name, "prediction_errors": ERRORS.name,
                 "prediction_latency_ms": LATENCY.name, "feature_drift_psi": DRIFT.name}
        used = set(re.findall(r"google_logging_metric\.([a-z_]+)\.name", monitoring))
        cloud_own = set(re.findall(r'pubsub\.googleapis\.com/subscription/([a-z_]+)\\"', monitoring))
        return {names[u] for u in used} | cloud_own
    found = set(re.findall(r'metric_name\s*=\s*"([A-Za-z]+)"', monitoring))
    if "m.latency_ms" in monitoring:
        found.add(LATENCY.name)
    if "m.error" in monitoring:
        found.add(ERRORS.name)
    if "count() *" in monitoring:
        found.add(PREDICTIONS.name)
    return found


def test_every_alarmed_metric_is_emitted_and_every_alarm_notifies(trees):
    seen_stores: set[str] = set()
    for name, (files, caps, _) in trees.items():
        cloud = name.rsplit("__", 1)[1]
        monitoring = files.get("infra/modules/monitoring/main.tf")
        if monitoring is None:
            continue
        metrics_py = files["services/common/metrics.py"]
        app = files["services/serving/app.py"]
        assert "app.middleware(\"http\")(prediction_metrics)" in app, name
        for metric in _alarmed_metrics(cloud, monitoring):
            if metric == DRIFT.name:
                assert metric in files[".github/workflows/drift.yml"], f"{name}: nobody publishes {metric}"
            elif metric in _STREAM_METRICS:
                # the cloud's own metric of a store or consumer another module owns, wired into the alarm
                store = _STREAM_METRICS[metric]
                assert re.search(rf"\n  wired_{store}\s+= true\n", files["infra/main.tf"]), f"{name}: {metric} of what?"
                seen_stores.add(metric)
            elif metric in _JOB_METRICS:
                # the cloud counts a scheduled job's failed runs: the job is built and wired into the alarm
                job, wired = _JOB_METRICS[metric]
                assert any(f'resource "{job}"' in t for p, t in files.items() if p.startswith("infra/modules/")), name
                assert re.search(rf"\n  wired_{wired}\s+= true\n", files["infra/main.tf"]), f"{name}: {metric} of what?"
            else:
                assert f'"{metric}"' in metrics_py, f"{name}: serving never emits {metric}"
        if "serving_online" in caps:
            assert _alarmed_metrics(cloud, monitoring) >= {LATENCY.name, ERRORS.name}, name
        alarms = re.findall(r'^resource "(aws_cloudwatch_metric_alarm|google_monitoring_alert_policy|'
                            r'azurerm_monitor_[a-z_]+alert[a-z_0-9]*)" "([a-z_0-9]+)"', monitoring, re.MULTILINE)
        subscriber = {"aws": "alarm_actions", "gcp": "notification_channels", "azure": "action_group"}[cloud]
        for kind, key in alarms:
            body = monitoring.split(f'resource "{kind}" "{key}"', 1)[1].split("\nresource ", 1)[0]
            assert subscriber in body, f"{name}: {key} notifies nobody"
        if cloud == "aws":
            assert "treat_missing_data" in monitoring and "aws_sns_topic_subscription" in monitoring
    assert seen_stores, "no scenario alarms on a stream consumer's failure store: the check above ran on nothing"


def test_runbook_has_an_entry_per_alarm(trees):
    for name, (files, _, _) in trees.items():
        monitoring = files.get("infra/modules/monitoring/main.tf", "")
        runbook = files["docs/runbook.md"]
        keys = re.findall(r"Runbook: docs/runbook\.md#([a-z0-9-]+)", monitoring)
        for key in keys:
            assert f"\n## {key}\n" in runbook, f"{name}: no runbook entry for {key}"
            entry = runbook.split(f"\n## {key}\n", 1)[1].split("\n## ", 1)[0]
            assert "What to do:" in entry and "\n1. " in entry, f"{name}: {key} has no steps"


def test_thresholds_follow_the_stated_targets(trees):
    for name, (files, caps, constraints) in trees.items():
        if "serving_online" not in caps or "monitoring" not in caps or not constraints.sla_latency_ms:
            continue
        runbook = files["docs/runbook.md"]
        assert f"stated p95 {constraints.sla_latency_ms:g} ms" in runbook, name
        if constraints.availability_target:
            assert f"stated availability {constraints.availability_target:g} %" in runbook, name


def test_names_is_a_validator_check_that_fails_the_report(trees):
    files, _, _ = trees["fraud-eu-pci__aws"]
    assert validate_tree(files, checks=["names"], install_tools=False).tool("names").status == "pass"
    broken = {**files, "infra/outputs.tf": files["infra/outputs.tf"].replace('output "', 'output "x_')}
    result = validate_tree(broken, checks=["names"], install_tools=False).tool("names")
    assert result.status == "fail" and any(f.rule == "unknown-output" for f in result.findings)


def test_the_bootstrap_turns_on_every_api_the_stack_uses(trees):
    """A new Google Cloud project has most APIs off, and the first apply stopped at the first
    resource of a disabled one. The bootstrap enables, in every environment's project, the API of
    each resource type `infra/` manages and of each API its resources call; the guide lists those
    the bootstrap itself needs before its first run."""
    from services.codegen.render_bootstrap import GCP_APIS, resource_types

    seen = 0
    for name, (files, _, _) in trees.items():
        if not name.endswith("__gcp"):
            continue
        listed = re.search(r"stack_apis = \[(.*?)\]", files["infra/bootstrap/main.tf"], re.S)
        assert listed, name
        enabled = set(re.findall(r'"([a-z]+\.googleapis\.com)"', listed.group(1)))
        for rtype in resource_types(files):
            apis = next((a for prefix, a in GCP_APIS if rtype.startswith(prefix)), None)
            assert apis is not None, f"{name}: which API manages {rtype}?"
            assert set(apis) <= enabled, (name, rtype)
        infra = "".join(t for p, t in files.items() if p.startswith("infra/modules/"))
        for called in ("run.googleapis.com/v2", "workflowexecutions.googleapis.com/v1", "aiplatform.googleapis.com/v1"):
            if called in infra:
                assert called.split("/")[0] in enabled, (name, called)
        assert 'resource "google_project_service" "stack"' in files["infra/bootstrap/main.tf"]
        guide = files["docs/README.md"]
        before = guide[guide.index("gcloud services enable"):guide.index("terraform apply")]
        for api in ("iam.googleapis.com", "sts.googleapis.com", "iamcredentials.googleapis.com",
                    "artifactregistry.googleapis.com", "serviceusage.googleapis.com"):
            assert api in before, (name, api)
        seen += 1
    assert seen
