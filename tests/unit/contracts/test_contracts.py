"""The contracts package stands alone and describes every message."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from amp_contracts import (
    PAYLOADS,
    ConstraintSchema,
    Envelope,
    IntakeRequested,
    PolicyResults,
    RuleResult,
    Subjects,
    envelope_type,
    overall_of,
)
from amp_contracts.schemas import write_schemas
from pydantic import ValidationError


def test_importable_with_pydantic_alone() -> None:
    code = ("import sys, amp_contracts; bad = sorted(m.split('.')[0] for m in sys.modules "
            "if m.split('.')[0] in {'faststream','nats','langgraph','fastapi','asyncpg','anthropic','amp_runtime','services'}); "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_subject_has_a_payload_and_schema(tmp_path) -> None:
    paths = write_schemas(tmp_path)
    names = {p.name for p in paths}
    for subject in PAYLOADS:
        assert f"subject__{subject}.schema.json" in names
        schema = json.loads((tmp_path / f"subject__{subject}.schema.json").read_text())
        assert {"project_id", "decision_set_id", "run_id", "schema_version", "payload"} <= set(schema["properties"])


def test_envelope_round_trip_and_validation() -> None:
    env = Envelope[IntakeRequested](project_id="p", decision_set_id="d", run_id="r",
                                    payload=IntakeRequested(text="hello"))
    back = envelope_type(Subjects.INTAKE_REQUESTED).model_validate_json(env.model_dump_json())
    assert back.payload.text == "hello"
    with pytest.raises(ValidationError):
        envelope_type(Subjects.INTAKE_REQUESTED).model_validate({"project_id": "p"})


def test_constraint_schema_rejects_unknown_values() -> None:
    with pytest.raises(ValidationError):
        ConstraintSchema.model_validate({"cloud": "mars"})
    with pytest.raises(ValidationError):
        ConstraintSchema.model_validate({"availability_target": 120})
    c = ConstraintSchema(cloud="aws", regions=["eu-west-1"]).merged({"regions": ["eu-central-1"]})
    assert c.regions == ["eu-central-1"] and c.cloud == "aws"


def test_overall_is_the_worst_unwaived_status() -> None:
    rules = [RuleResult(id="a", status="pass", detail=""), RuleResult(id="b", status="fail", detail="", waived=True),
             RuleResult(id="c", status="warn", detail="")]
    assert overall_of(rules) == "warn"
    assert PolicyResults(rules=rules, overall=overall_of(rules)).overall == "warn"
