"""The project's key is granted to the service agents of the services the stack uses, and only those.

The Google Cloud KMS module granted seven service agents whatever the plan held. A service agent
exists once its API is on (and Cloud Storage's and BigQuery's only once asked for): a batch plan
without Pub/Sub has no Pub/Sub agent, so the grant, and the first apply, failed. The grants now
follow the APIs the stack's modules use, and the deploy guide makes the agents before the first apply.
"""

from __future__ import annotations

import re

import pytest
from amp_contracts import ConstraintSchema

from services.codegen.render import render_repository
from services.codegen.render_bootstrap import CMEK_AGENTS, gcp_stack_apis
from services.planner.planning import compose_plan
from tests.unit.codegen.conftest import inputs_for

_DEFAULT = re.compile(r'variable "cmek_agents" \{\n(?:  .*\n)*?  default\s+= \[(.*)\]\n')


def _rendered(workloads: list[str]) -> dict[str, str]:
    c = ConstraintSchema(cloud="gcp", regions=["europe-west4"], data_classification="pii",
                         workload_types=workloads, training_cadence="weekly")
    plan = compose_plan(c)
    assert plan.component("security_kms") is not None
    return render_repository(plan, c, *inputs_for(plan), "Acme churn", "")


@pytest.mark.parametrize("workloads", [["batch"], ["online"], ["streaming"], ["online", "streaming", "batch"]])
def test_the_key_is_granted_to_the_agents_of_the_apis_the_stack_uses(workloads: list[str]) -> None:
    files = _rendered(workloads)
    stack = {p: t for p, t in files.items() if p.startswith("infra/") and not p.startswith("infra/bootstrap/")}
    apis = set(gcp_stack_apis(stack))
    found = _DEFAULT.search(files["infra/variables.tf"])
    assert found
    agents = re.findall(r'"([a-z]+)"', found.group(1))
    assert agents == sorted(a for api, a in CMEK_AGENTS.items() if api in apis)
    assert ("pubsub" in agents) == ("pubsub.googleapis.com" in apis)
    kms = files["infra/modules/security_kms/main.tf"]
    assert "if contains(var.cmek_agents, service)" in kms
    guide = files["docs/README.md"]
    for agent in agents:
        assert (f"--service={agent}.googleapis.com" in guide or f"gcloud {agent} service-agent" in guide
                or (agent == "bigquery" and "--encryption_service_account" in guide)), agent


def test_a_batch_plan_grants_no_pubsub_agent() -> None:
    files = _rendered(["batch"])
    found = _DEFAULT.search(files["infra/variables.tf"])
    assert found and '"pubsub"' not in found.group(1) and '"storage"' in found.group(1)
