"""The checks that keep a model's answer inside the catalog and the schema (each service's questions)."""

from __future__ import annotations

import json

import pytest
from amp_contracts import Component, ConstraintSchema, Coverage, Plan
from amp_runtime.providers import OutputRejected, explain, json_schema
from pydantic import ValidationError

from services.codegen.asks import CommentPatchOut, Seam, SeamFillsOut, check_patch, check_seams
from services.critics.asks import CritiqueOut, check_risks
from services.intake.asks import ExtractionOut, QuestionsOut, check_extraction, check_questions, field_values
from services.planner.asks import PatternChoice, check_choice

CANDIDATES = ["aws:serving_online:sagemaker-endpoint", "aws:serving_online:lambda"]


def test_choice_inside_the_candidates_passes():
    c = PatternChoice(pattern_id=CANDIDATES[1], justification="cheap")
    assert check_choice(c, CANDIDATES) is c


@pytest.mark.parametrize("invented", ["aws:serving_online:made-up", "AWS:serving_online:lambda",
                                      "aws:serving_online:lambda ", "lambda", ""])
def test_choice_outside_the_candidates_is_rejected(invented):
    with pytest.raises(OutputRejected, match="not one of the candidates"):
        check_choice(PatternChoice(pattern_id=invented, justification="x"), CANDIDATES)


def test_choice_needs_a_justification():
    with pytest.raises(ValidationError):
        PatternChoice.model_validate({"pattern_id": CANDIDATES[0], "justification": ""})


def allow(cloud, region):
    return (cloud, region) in {("aws", "eu-west-1"), ("aws", "eu-central-1")}


def test_extraction_quotes_become_spans():
    text = "Run it on AWS in Ireland; p95 below 120 ms."
    out = ExtractionOut.model_validate({
        "constraints": {"cloud": "aws", "regions": ["eu-west-1"], "sla_latency_ms": 120},
        "evidence": [{"field": "cloud", "quote": "aws"}, {"field": "regions", "quote": "Ireland"},
                     {"field": "sla_latency_ms", "quote": "p95 below 120 ms"}]})
    constraints, spans = check_extraction(out, text, allow)
    assert constraints.regions == ["eu-west-1"]
    assert {s.field: text[s.start:s.end] for s in spans} == {"cloud": "AWS", "regions": "Ireland",
                                                            "sla_latency_ms": "p95 below 120 ms"}


@pytest.mark.parametrize("constraints,evidence,message", [
    ({"cloud": "aws", "regions": ["us-mars-1"]}, [{"field": "cloud", "quote": "AWS"},
                                                  {"field": "regions", "quote": "Ireland"}], "not known region"),
    ({"cloud": "aws"}, [{"field": "cloud", "quote": "Azure"}], "does not occur"),
    ({"cloud": "aws", "gpu": True}, [{"field": "cloud", "quote": "AWS"}], "no evidence quote for gpu"),
    ({"cloud": "aws"}, [{"field": "cloud", "quote": "AWS"}, {"field": "gpu", "quote": "AWS"}], "leave unstated"),
])
def test_extraction_rejects_ungrounded_values(constraints, evidence, message):
    out = ExtractionOut.model_validate({"constraints": constraints, "evidence": evidence})
    with pytest.raises(OutputRejected, match=message):
        check_extraction(out, "Run it on AWS in Ireland.", allow)


def test_extraction_schema_rejects_values_outside_the_schema():
    with pytest.raises(ValidationError):
        ExtractionOut.model_validate({"constraints": {"cloud": "oracle"}})
    with pytest.raises(ValidationError):
        ExtractionOut.model_validate({"constraints": {"color": "blue"}})


def test_patch_keeps_only_changes_and_checks_regions():
    current = ConstraintSchema(cloud="aws", regions=["eu-west-1"], compliance=["gdpr"], budget_monthly_usd=100)
    out = CommentPatchOut.model_validate({"set": {"regions": ["eu-central-1"], "compliance": ["gdpr"]},
                                          "clear": ["budget_monthly_usd"]})
    assert check_patch(out, current, allow) == {"regions": ["eu-central-1"], "budget_monthly_usd": None}
    with pytest.raises(OutputRejected, match="not known region"):
        check_patch(CommentPatchOut.model_validate({"set": {"regions": ["moon-1"]}}), current, allow)
    with pytest.raises(OutputRejected, match="both set and cleared"):
        check_patch(CommentPatchOut.model_validate({"set": {"gpu": True}, "clear": ["gpu"]}), current, allow)


def test_questions_only_for_missing_fields_with_schema_values():
    cov = Coverage(score=0.4, threshold=0.8, passed=False, missing=["budget_monthly_usd", "cloud"],
                   blocking=["data_classification"])
    good = QuestionsOut.model_validate({"questions": [
        {"id": "q1", "field": "data_classification", "prompt": "Data?", "kind": "choice", "options": ["pii", "phi"]},
        {"id": "q2", "field": "budget_monthly_usd", "prompt": "Budget in USD?", "kind": "number"}]})
    qs = check_questions(good, ConstraintSchema(), cov, set())
    assert [q.blocking for q in qs] == [True, False]
    for bad, message in [
        ({"id": "q", "field": "gpu", "prompt": "GPU?", "kind": "text"}, "ask only about"),
        ({"id": "q", "field": "cloud", "prompt": "Cloud?", "kind": "choice", "options": ["oracle"]}, "does not allow"),
        ({"id": "q", "field": "cloud", "prompt": "Cloud?", "kind": "choice"}, "without options"),
    ]:
        with pytest.raises(OutputRejected, match=message):
            check_questions(QuestionsOut.model_validate({"questions": [bad]}), ConstraintSchema(), cov, set())
    with pytest.raises(OutputRejected, match="ask only about"):  # already asked
        check_questions(good, ConstraintSchema(), cov, {"data_classification"})


def test_risks_must_name_plan_components():
    plan = Plan(cloud="aws", regions=["eu-west-1"], components=[
        Component(capability="serving_online", pattern_id="aws:serving_online:lambda", deployment="serverless")])
    ok = CritiqueOut.model_validate({"risks": [
        {"id": "b", "severity": "low", "title": "t", "detail": "d", "component": "serving_online"},
        {"id": "a", "severity": "high", "title": "t", "detail": "d", "component": "aws:serving_online:lambda"}]})
    assert [r.id for r in check_risks(ok, plan)] == ["a", "b"]
    bad = CritiqueOut.model_validate({"risks": [
        {"id": "a", "severity": "high", "title": "t", "detail": "d", "component": "aws:storage:s3"}]})
    with pytest.raises(OutputRejected, match="not in the plan"):
        check_risks(bad, plan)


def test_seams_must_all_be_filled_with_valid_python():
    seams = [Seam(id="a", path="a.py"), Seam(id="b", path="b.tf", language="hcl")]
    ok = SeamFillsOut.model_validate({"fills": [{"seam_id": "a", "code": "x = 1\n"}, {"seam_id": "b", "code": "{"}]})
    assert check_seams(ok, seams) == {"a": "x = 1\n", "b": "{"}
    with pytest.raises(OutputRejected, match="exactly the seams"):
        check_seams(SeamFillsOut.model_validate({"fills": [{"seam_id": "a", "code": "x = 1"}]}), seams)
    with pytest.raises(OutputRejected, match="syntax error"):
        check_seams(SeamFillsOut.model_validate({"fills": [{"seam_id": "a", "code": "def (:"},
                                                           {"seam_id": "b", "code": ""}]}), seams)


def test_schemas_are_self_contained():
    for model in (ExtractionOut, QuestionsOut, PatternChoice, CritiqueOut, CommentPatchOut, SeamFillsOut):
        schema = json_schema(model)
        assert "$ref" not in json.dumps(schema) and "$defs" not in schema and schema["type"] == "object"


def test_field_values_and_explain():
    assert field_values("cloud") == ("aws", "gcp", "azure")
    assert "pci_dss" in field_values("compliance")
    assert field_values("regions") is None
    try:
        PatternChoice.model_validate({"pattern_id": "x"})
    except ValidationError as e:
        assert "justification: Field required" in explain(e)
    assert explain(OutputRejected("nope")) == "The answer breaks a rule: nope"
