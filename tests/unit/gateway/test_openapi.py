"""The OpenAPI document is a valid OpenAPI 3.1 document and a usable contract.

Every operation has a unique, stable operation id and a summary; every error it can answer is
documented with the error model, and the ones that follow from how it is wired (401 behind the
bearer token, 404 for a project's non-members, 413 for a body, 422 for validated input) are there.
"""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest
from amp_runtime.settings import Settings
from openapi_spec_validator import validate

from services.gateway.app import create_app
from services.gateway.openapi import api_routes

ERROR_REF = "#/components/schemas/ErrorResponse"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("openapi")))


@pytest.fixture(scope="module")
def spec(app) -> dict:
    return app.openapi()


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method.upper(), path, op


def test_the_document_is_valid_openapi(spec) -> None:
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # the gateway never answers FastAPI's shape


def test_every_operation_has_a_unique_id_and_a_summary(spec) -> None:
    ops = list(operations(spec))
    assert len(ops) > 40
    ids = [op.get("operationId") for _, _, op in ops]
    assert all(ids) and len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    for i in ids:  # stable, hand-given ids (lowerCamelCase), never FastAPI's generated `name_path_method`
        assert i[0].islower() and "_" not in i, i
    for method, path, op in ops:
        assert op.get("summary", "").strip(), f"{method} {path} has no summary"


def test_every_error_is_the_error_model_and_every_operation_documents_its_errors(spec) -> None:
    for method, path, op in operations(spec):
        codes = set(op["responses"])
        errors = {c for c in codes if c[0] in "45"}
        for code in errors:
            content = op["responses"][code].get("content", {})
            assert list(content) == ["application/json"], (method, path, code)
            assert content["application/json"]["schema"] == {"$ref": ERROR_REF}, (method, path, code)
        if op.get("security"):
            assert {"401", "503"} <= codes, (method, path)
            assert errors, (method, path)
            if method != "GET":
                assert "429" in codes, (method, path)
        if method in ("POST", "PUT", "PATCH"):
            assert "413" in codes, (method, path)
        if "requestBody" in op:
            assert "422" in codes, (method, path)
        if "{" in path and op.get("security"):
            assert "404" in codes, (method, path)


def test_operations_behind_the_token_say_so_and_the_public_ones_do_not(spec) -> None:
    public = {("GET", "/healthz"), ("GET", "/asyncapi.json"), ("GET", "/.well-known/openid-configuration"),
              ("GET", "/.well-known/jwks.json"), ("POST", "/auth/session"), ("DELETE", "/auth/session")}
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for method, path, op in operations(spec):
        assert bool(op.get("security")) == ((method, path) not in public), (method, path)
        signs_in = (method, path) == ("POST", "/auth/session")  # a token that does not check out
        assert ("401" in op["responses"]) == ((method, path) not in public or signs_in), (method, path)


def _op(spec: dict, op_id: str) -> dict:
    found = [op for _, _, op in operations(spec) if op["operationId"] == op_id]
    assert len(found) == 1, op_id
    return found[0]


def test_answers_are_typed(spec) -> None:
    for method, path, op in operations(spec):
        ok = [c for c in op["responses"] if c[0] == "2"]
        assert ok, (method, path)
        for code in ok:
            if code == "204":
                assert not op["responses"][code].get("content"), (method, path)
                continue
            content = op["responses"][code]["content"]
            schema = content.get("application/json", {}).get("schema")
            if path == "/asyncapi.json":
                continue
            if schema is not None:  # a named model, never an untyped object
                assert "$ref" in schema, (method, path, schema)
    for op_id, model in {"getDecisionSet": "DecisionSet", "getProject": "Project", "listEvents": "EventsPage",
                         "getIntakeSchema": "IntakeSchema", "previewIntake": "IntakePreview",
                         "getLlmUsage": "LlmUsage", "listMembers": "MemberList", "listApiKeys": "ApiKeyList",
                         "listWebhooks": "WebhookList", "listDeadLetters": "DeadLetterList",
                         "getStatus": "PlatformStatus"}.items():
        schema = _op(spec, op_id)["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}, op_id
    review = spec["components"]["schemas"]["DecisionSet"]["properties"]["review"]
    assert review == {"$ref": "#/components/schemas/Review"}


def test_creations_streams_artifacts_and_uploads_are_declared_as_such(spec) -> None:
    for op_id in ("createProject", "createApiKey", "createWebhook", "uploadRepository"):
        responses = _op(spec, op_id)["responses"]
        assert "201" in responses and "200" not in responses, op_id
        assert "$ref" in responses["201"]["content"]["application/json"]["schema"], op_id
    assert list(_op(spec, "streamEvents")["responses"]["200"]["content"]) == ["text/event-stream"]
    artifact = _op(spec, "getArtifact")["responses"]
    assert list(artifact["200"]["content"]) == ["application/zip"] and "307" in artifact
    assert set(_op(spec, "getDiff")["responses"]["200"]["content"]) == {"text/x-diff", "application/json"}
    upload = _op(spec, "uploadRepository")["requestBody"]
    assert upload["required"] and list(upload["content"]) == ["application/zip"]
    assert {"409", "422"} <= set(_op(spec, "resumeRun")["responses"]) and "402" in _op(spec, "resumeRun")["responses"]


def test_idempotency_key_is_declared_exactly_where_commands_accept_it(app, spec) -> None:
    accepting = set()
    for route in api_routes(app):
        if route.include_in_schema and "command(" in inspect.getsource(route.endpoint):
            accepting |= {(m, route.path_format) for m in route.methods}
    assert len(accepting) >= 7
    for method, path, op in operations(spec):
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) == ((method, path) in accepting), (method, path)
        if (method, path) in accepting:
            assert {"409", "422"} <= set(op["responses"]), (method, path)


def _conforms(model: type, data: dict) -> None:
    """The answer validates against its model, and what the route sends is what it built, field for field."""
    from pydantic import TypeAdapter

    adapter = TypeAdapter(model)
    sent = adapter.dump_python(adapter.validate_python(data), mode="json", exclude_unset=True, by_alias=True)
    assert sent == json.loads(json.dumps(data, default=str))


def test_the_read_models_the_routes_build_conform_to_their_answers() -> None:
    from amp_contracts import api

    from services.gateway import views
    from services.gateway.review import review
    from services.gateway.routes import intake_preview
    from services.gateway.schemas import Preview
    from services.gateway.wizard import wizard
    from tests.unit.gateway.test_review import CHILD, PARENT

    for child, parent in ((CHILD, PARENT), (CHILD, None), (PARENT, None)):
        _conforms(api.Review, review(child, parent))
    _conforms(api.IntakeSchema, wizard())
    _conforms(api.PipelineView, views.pipeline_view())
    for text in ("I need an ML model for churn", "", "batch scoring on gcp and aws, budget $10 per month, PCI data",
                 "Real-time fraud API on AWS eu-west-1, p95 80 ms, 3000 rps, $6000/month, PCI, weekly retraining"):
        answer = asyncio.run(intake_preview(Preview(text=text), who=None))  # type: ignore[arg-type]
        _conforms(api.IntakePreview, answer)
    row = {"id": "d1", "project_id": "p1", "version": 2, "parent_id": "d0", "status": "waiting_intake",
           "stage": "intake", "requirements": "x", "input_constraints": {}, "constraints": CHILD["constraints"],
           "coverage": None, "assumptions": [{"field": "gpu", "value": False, "reason": "r"}], "plan": None,
           "risks": CHILD["risks"], "cost": CHILD["cost"], "policy": CHILD["policy"],
           "gate": {"gate": "intake", "questions": [{"id": "q", "field": "cloud", "prompt": "?"}]}, "approval": None,
           "reports": None, "diff": None, "git_commit": None, "prompt_pack_hash": None, "gate_expires_at": None,
           "created_at": "2026-12-02T10:00:52.764001+00:00", "updated_at": None, "traceparent": None,
           "artifact_key": None}
    _conforms(api.DecisionSet, {**views.decision_set(row), "review": review(row, PARENT)})
    _conforms(api.Project, views.project({"id": "p1", "name": "n", "description": "", "owner_id": "u", "role": "owner",
                                          "created_at": "2026-12-02T10:00:52+00:00", "policies": [{"id": "r"}]}))
