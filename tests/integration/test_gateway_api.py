"""Bad input gets a clear 4xx in the error model and loses nothing; Idempotency-Key works."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture()
def http(stack, auth_headers):
    with httpx.Client(base_url=stack.gateway_url, timeout=30, headers=auth_headers) as c:
        yield c


def assert_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"] and "Traceback" not in r.text
    return body["error"]


def test_malformed_json(http) -> None:
    r = http.post("/projects", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(r, 422, "validation_failed")


def test_wrong_types_and_unknown_fields(http) -> None:
    assert_error(http.post("/projects", json={"name": 42}), 422, "validation_failed")
    assert_error(http.post("/projects", json={"name": "x", "bogus": 1}), 422, "validation_failed")
    p = http.post("/projects", json={"name": "types"}).json()
    err = assert_error(http.post(f"/projects/{p['id']}/constraints", json={"constraints": {"cloud": "mars"}}),
                       422, "validation_failed")
    assert "cloud" in err["message"] or "constraints" in err["message"]
    assert_error(http.post(f"/projects/{p['id']}/constraints", json={"text": "   "}), 422, "validation_failed")


def test_unknown_ids(http) -> None:
    assert_error(http.get(f"/decision-sets/{uuid.uuid4()}"), 404, "not_found")
    assert_error(http.get("/decision-sets/not-a-uuid"), 404, "not_found")
    assert_error(http.get(f"/projects/{uuid.uuid4()}"), 404, "not_found")
    assert_error(http.post(f"/projects/{uuid.uuid4()}/constraints", json={"text": "batch on gcp"}), 404, "not_found")
    assert_error(http.get(f"/streams/{uuid.uuid4()}"), 404, "not_found")
    assert_error(http.get("/no/such/route"), 404, "not_found")


def test_oversized_body(http) -> None:
    r = http.post("/projects", content=b'{"name": "' + b"x" * 400_000 + b'"}',
                  headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")


def test_idempotency_key_replays_and_rejects_a_different_body(http) -> None:
    key = str(uuid.uuid4())
    a = http.post("/projects", json={"name": "idem"}, headers={"Idempotency-Key": key})
    b = http.post("/projects", json={"name": "idem"}, headers={"Idempotency-Key": key})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] == b.json()["id"]
    assert b.headers.get("Idempotent-Replayed") == "true"
    assert_error(http.post("/projects", json={"name": "other"}, headers={"Idempotency-Key": key}), 422,
                 "validation_failed")


def test_submit_twice_with_one_key_starts_one_run(http) -> None:
    p = http.post("/projects", json={"name": "idem-run"}).json()
    key = str(uuid.uuid4())
    body = {"text": "Nightly batch churn scoring on GCP europe-west4, budget $800 per month, internal data."}
    a = http.post(f"/projects/{p['id']}/constraints", json=body, headers={"Idempotency-Key": key}).json()
    b = http.post(f"/projects/{p['id']}/constraints", json=body, headers={"Idempotency-Key": key}).json()
    assert a["decision_set_id"] == b["decision_set_id"]
    assert http.get(f"/projects/{p['id']}").json()["version_count"] == 1


def test_decisions_on_a_gate_that_is_not_waiting(http) -> None:
    p = http.post("/projects", json={"name": "gate"}).json()
    ds = http.post(f"/projects/{p['id']}/constraints", json={"text": "batch scoring"}).json()["decision_set_id"]
    r = http.post(f"/decision-sets/{ds}/approve", json={"status": "approved"})
    assert r.status_code == 409 and r.json()["error"]["code"] in ("gate_closed", "conflict")
    assert_error(http.post(f"/decision-sets/{ds}/approve", json={"status": "maybe"}), 422, "validation_failed")
    assert_error(http.post(f"/decision-sets/{ds}/answers", json={"answers": {"colour": "red"}}), 422,
                 "validation_failed")


def test_openapi_and_asyncapi_documents(http) -> None:
    spec = http.get("/openapi.json").json()
    for path in ("/projects", "/projects/{project_id}/constraints", "/decision-sets/{ds_id}",
                 "/decision-sets/{ds_id}/approve", "/decision-sets/{ds_id}/answers", "/streams/{ds_id}",
                 "/decision-sets/{ds_id}/artifact", "/decision-sets/{ds_id}/events"):
        assert path in spec["paths"], path
    doc = http.get("/asyncapi.json").json()
    channels = " ".join(doc.get("channels", {}))
    assert "intake" in channels and "codegen" in channels


def test_intake_schema_is_a_wizard(http) -> None:
    w = http.get("/intake/schema").json()
    names = [f["name"] for f in w["fields"]]
    assert names[:2] == ["cloud", "regions"]
    cloud = w["fields"][0]
    assert cloud["kind"] == "choice" and set(cloud["options"]) == {"aws", "gcp", "azure"}


def test_input_the_fuzzer_found_is_refused_in_the_error_model(http) -> None:
    """Each of these was a 400 outside the contract or a 500; each is a 422 naming what is wrong."""
    r = http.post("/projects", content=b'\xff\xfe{"name": "x"}', headers={"Content-Type": "application/json"})
    assert "body" in assert_error(r, 422, "validation_failed")["message"]
    assert_error(http.get(f"/dead-letters/{2**70}"), 422, "validation_failed")
    assert_error(http.get(f"/dead-letters/{-(2**70)}"), 422, "validation_failed")
    p = http.post("/projects", json={"name": "budget-bounds"}).json()["id"]
    for too_big in (1e307, 99_999_999.99999999):
        assert_error(http.put(f"/projects/{p}/llm-budget", json={"limit_usd": too_big}), 422, "validation_failed")
    assert http.put(f"/projects/{p}/llm-budget", json={"limit_usd": 99_999_999.99}).json()["budget"]["limit_usd"] \
        == 99_999_999.99
