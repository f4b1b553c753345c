"""Schemathesis against the live gateway of the test stack: every operation of the OpenAPI document,
signed in with the suite's token, with generated valid and invalid input.

Whatever the input, the gateway answers no 5xx, and every answer conforms to the document: a
documented status code and media type, and a body that matches its schema (the error model for
every error). The number of examples is bounded so the run takes a few minutes on two cores.
"""

from __future__ import annotations

import tempfile
import uuid
import zlib
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
import schemathesis
from amp_runtime.settings import Settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.gateway.app import create_app

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def known(stack, auth_headers) -> dict[str, str]:
    """A project of the suite's user with one completed version: ids that exist, for half the examples."""
    from amp_cli.client import Client

    from tests.e2e.flows import FRAUD, follow, is_gate, waivers_for

    client = Client(stack.gateway_url, timeout=60)
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers=auth_headers) as http:
        project = http.post("/projects", json={"name": f"fuzz-{uuid.uuid4().hex[:6]}"}).json()["id"]
        ds = http.post(f"/projects/{project}/constraints", json={"text": FRAUD}).json()["decision_set_id"]
        follow(client, ds, is_gate, timeout=180)
        policy = http.get(f"/decision-sets/{ds}").json()["policy"]
        http.post(f"/decision-sets/{ds}/approve", json={"status": "approved", "waivers": waivers_for(policy)})
        follow(client, ds, lambda ev, _: ev == "run-complete", timeout=240)
        assert http.get(f"/decision-sets/{ds}").json()["status"] == "completed"
    client.close()
    return {"project_id": project, "ds_id": ds}


#: Operations never sent to the existing ids: a new version would start a run per example; a webhook URL
#: would be resolved (a DNS query for a made-up name); a stream resumed after its last event waits for more.
NOT_ON_KNOWN = {"submitConstraints", "createWebhook", "updateWebhook", "streamEvents"}
#: The status codes each operation answered, over all its examples.
SEEN: dict[str, set[int]] = defaultdict(set)


def _document() -> dict:
    """The document the gateway serves at /openapi.json (built by the same code, without starting it)."""
    with tempfile.TemporaryDirectory() as tmp:
        return create_app(Settings(data_dir=Path(tmp))).openapi()


schema = schemathesis.openapi.from_dict(_document())
schemathesis.serializer.alias("application/zip", "application/octet-stream")  # the repository upload: bytes as they are


@schema.parametrize()
@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_the_gateway_answers_every_input_in_its_contract(case, stack, auth_headers, known) -> None:
    if case.path_parameters and case.operation.definition.raw.get("operationId") not in NOT_ON_KNOWN \
            and zlib.crc32(repr((case.path_parameters, case.body, case.query)).encode()) % 2 == 0:  # half the time, paths that exist
        for name, value in known.items():
            if name in case.path_parameters:
                case.path_parameters[name] = value
    response = case.call_and_validate(base_url=stack.gateway_url, headers=auth_headers, checks=CHECKS, timeout=30)
    SEEN[case.operation.definition.raw["operationId"]].add(response.status_code)


def test_the_existing_ids_took_the_examples_past_the_404() -> None:
    """The examples on existing ids reached the routes' answers, not only their refusals."""
    if not SEEN:
        pytest.skip("runs after the generated examples")
    for op_id in ("getProject", "getDecisionSet", "listEvents", "getDiff", "getArtifact", "getLlmUsage",
                  "listMembers", "listApiKeys", "listWebhooks"):
        assert 200 in SEEN[op_id], (op_id, SEEN[op_id])


def test_the_document_tested_is_the_one_served(stack) -> None:
    assert httpx.get(f"{stack.gateway_url}/openapi.json", timeout=30).json() == _document()
