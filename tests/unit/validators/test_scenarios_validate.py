"""The validators service's full checks over every shared scenario on every cloud: the generated
repository passes as generated.

Each scenario's text goes through the real chain (extract -> plan -> critique -> estimate ->
policy), is rendered for its own cloud and forced onto the two others, and then meets every check
the validators service runs on an approved decision (`services.validators.nodes.validators`): lint,
format, HCL, module interface, names, workflows and actionlint, checkov, secrets, the generated
tests in the sandbox, Terraform init/validate/test where the provider is available offline, and
the plan checks (conformance, cost reconciliation). A check may be skipped only with its reason:
Terraform for a provider not in the local mirror (Google, AzureRM on this kind of machine).
"""

from __future__ import annotations

import json

import pytest
from amp_domain.requirements.extraction import extract

from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.critics.tech import critique
from services.planner.planning import compose_plan
from services.policy.engine import evaluate
from services.validators.nodes import validators
from tests.evaldata import scenarios

pytestmark = pytest.mark.slow  # every check, Terraform with a 700 MB provider included, 24 times

CLOUDS = ("aws", "gcp", "azure")
FORCED_REGION = {"aws": ["eu-west-1"], "gcp": ["europe-west4"], "azure": ["westeurope"]}
#: Checks that must have run and passed on every tree, whatever the host.
MUST_PASS = {"ruff", "ruff-format", "hcl2", "tf-interface", "names", "workflow-structure", "detect-secrets",
             "pytest", "tf-conformance", "cost-reconcile"}


def _cases() -> list[tuple[dict, str]]:
    return [(s, cloud) for s in scenarios() for cloud in CLOUDS]


@pytest.mark.timeout(1200)
@pytest.mark.parametrize(("scenario", "cloud"), _cases(), ids=lambda v: v["id"] if isinstance(v, dict) else v)
def test_the_generated_repository_passes_every_validator(scenario: dict, cloud: str) -> None:
    stated = extract(scenario["text"]).constraints
    constraints = stated if stated.cloud == cloud else stated.model_copy(
        update={"cloud": cloud, "regions": FORCED_REGION[cloud]})
    plan = compose_plan(constraints)
    cost = estimate(plan, constraints)
    policy = evaluate(constraints, plan, cost)
    files = render_repository(plan, constraints, cost, policy, critique(plan, constraints), [], scenario["id"])
    state_doc = {"plan": plan.model_dump(mode="json"), "constraints": constraints.model_dump(mode="json"),
                 "cost": cost.model_dump(mode="json")}
    report = validators(files, checkov=True, timeout_s=600, state_doc=state_doc, terraform=True)["validation"]
    tools = {t["tool"]: t for t in report["tools"]}
    failing = {name: [f["message"][:300] for f in t["findings"] if f["severity"] == "error"][:5]
               for name, t in tools.items() if t["status"] in ("fail", "error")}
    assert report["overall"] == "pass" and not failing, json.dumps(failing, indent=1)
    not_run = {name: t.get("reason") for name, t in tools.items() if name in MUST_PASS and t["status"] != "pass"}
    assert not not_run, not_run
    assert all(t.get("reason") for t in tools.values() if t["status"] == "skipped"), "a skip must say why"
    tf = tools["terraform-validate"]
    if cloud == "aws" and tf["status"] == "skipped":
        pytest.skip(f"terraform-validate skipped on this host: {tf['reason']}")
    if cloud != "aws":
        assert tf["status"] in ("pass", "skipped"), tf


@pytest.mark.timeout(1200)
def test_a_long_project_name_in_a_long_region_passes_terraform() -> None:
    """Names the cloud caps (IAM roles hold 64 characters) hold for a long project name in a long
    region: the Batch jobs' roles of a FedRAMP plan in us-gov-west-1 once ran past the cap."""
    from services.validators.checks.runner import validate_tree

    text = "Document classification for a federal agency, FedRAMP High, AWS us-gov-west-1, nightly batch scoring"
    constraints = extract(text).constraints
    plan = compose_plan(constraints)
    assert plan.regions == ["us-gov-west-1"] and any(c.pattern_id.endswith("batch-fargate") for c in plan.components)
    files = render_repository(plan, constraints, estimate(plan, constraints), None, [], [],
                              "Document classification for a federal agency", text)
    assert '"document-classification"' in files["infra/variables.tf"], "the slug is near the 24-character cap"
    report = validate_tree(files, checks=["terraform-validate"], terraform=True, timeout_s=600)
    tool = next(t for t in report.tools if t.tool == "terraform-validate")
    assert tool.status == "pass", [f.message[:500] for f in tool.findings]
