"""The bus's AsyncAPI document is valid AsyncAPI 3.0 and describes every subject with its real payload."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from amp_contracts import AGENTS, PIPELINE, Subjects

from services.gateway.asyncapi import document

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "asyncapi-3.0.0.json"  # @asyncapi/specs 6.11.1


def _doc() -> dict:
    return json.loads(document())


def test_the_document_validates_against_the_asyncapi_schema() -> None:
    errors = list(jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(_doc()))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]


def test_every_subject_is_there_with_its_payload_schema() -> None:
    doc = _doc()
    addresses = {c["address"] for c in doc["channels"].values()}
    wanted = {s.subject for s in PIPELINE} | {p for s in PIPELINE for p in s.publishes} | {Subjects.RUN_COMPLETED}
    assert wanted <= addresses
    assert "amp.events.{decision_set_id}" in addresses
    assert {f"amp.dlq.{a}" for a in AGENTS} <= addresses
    schemas = doc["components"]["schemas"]
    assert any(name.startswith("Envelope") and "GateDecided" in name for name in schemas)
    assert "EventBatch" in schemas and "properties" in schemas["EventBatch"]


def test_bindings_and_headers() -> None:
    doc = _doc()
    assert all(c["bindings"] == {"nats": {}} for c in doc["channels"].values())
    ops = doc["operations"]
    assert all(o["bindings"]["nats"]["bindingVersion"] == "0.1.0" for o in ops.values())
    durables = {o["x-jetstream-durable"] for o in ops.values() if "x-jetstream-durable" in o}
    assert len(durables) == len(PIPELINE)
    assert all("Nats-Msg-Id" in m["headers"]["properties"] for m in doc["components"]["messages"].values())
