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
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers=auth_headers) as http:
        project = http.post("/projects", json={"name": f"fuzz-{uuid.uuid4().hex[:6]}"}).json()["id"]
    return {"project_id": project}


def _document() -> dict:
    """The document the gateway serves at /openapi.json (built by the same code, without starting it)."""
    with tempfile.TemporaryDirectory() as tmp:
        return create_app(Settings(data_dir=Path(tmp))).openapi()


schema = schemathesis.openapi.from_dict(_document())
schemathesis.serializer.alias("application/zip", "application/octet-stream")  # the repository upload: bytes as they are


@schema.parametrize()
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_the_gateway_answers_every_input_in_its_contract(case, stack, auth_headers, known) -> None:
    for name, value in known.items():  # half the time, a path that exists
        if case.path_parameters and name in case.path_parameters and zlib.crc32(repr(case.body).encode()) % 2 == 0:
            case.path_parameters[name] = value
    case.call_and_validate(base_url=stack.gateway_url, headers=auth_headers, checks=CHECKS, timeout=30)


def test_the_document_tested_is_the_one_served(stack) -> None:
    assert httpx.get(f"{stack.gateway_url}/openapi.json", timeout=30).json() == _document()
