"""Adaptive questions and assumptions."""

from __future__ import annotations

from amp_contracts import ConstraintSchema
from amp_domain.requirements.coverage import check_coverage
from amp_domain.requirements.extract_gazetteer import gazetteer
from amp_domain.requirements.extraction import extract
from amp_domain.requirements.questions import assumptions, next_questions


def _ask(c: ConstraintSchema, **kw):
    return next_questions(c, check_coverage(c), **kw)


def test_vague_request_asks_blocking_first() -> None:
    c = extract("I want a churn model. That's all I know right now.").constraints
    qs = _ask(c)
    assert [q.field for q in qs] == ["cloud", "regions", "data_classification"]
    assert qs[0].options == ["aws", "gcp", "azure"] and qs[0].kind == "choice"
    assert qs[1].blocking and qs[2].blocking and qs[1].kind == "multi"
    assert all(q.why and q.prompt for q in qs)


def test_region_options_follow_known_cloud_and_gdpr() -> None:
    c = ConstraintSchema(cloud="gcp", compliance=["gdpr"])
    region_q = next(q for q in _ask(c) if q.field == "regions")
    assert region_q.options and all(gazetteer().cloud_of_region(o) == "gcp" for o in region_q.options)
    assert region_q.default == ["europe-west1"]


def test_never_asks_for_known_fields() -> None:
    c = extract("Nightly batch scoring on GCP (europe-west4). Customer emails are in the data.").constraints
    for q in _ask(c, limit=10):
        assert getattr(c, q.field) in (None, [], "") or q.id.startswith("conflict:")


def test_asked_fields_not_repeated_unless_blocking() -> None:
    c = ConstraintSchema(cloud="aws", workload_types=["online"])
    first = _ask(c, limit=10)
    asked = {q.field for q in first}
    again = _ask(c, asked=asked, limit=10)
    assert {q.field for q in again} == {"regions", "data_classification"}
    assert all(q.blocking for q in again)


def test_passed_coverage_without_conflicts_asks_nothing() -> None:
    c = ConstraintSchema(cloud="gcp", regions=["europe-west4"], budget_monthly_usd=800, workload_types=["batch"],
                         data_classification="pii")
    assert _ask(c) == []


def test_one_question_per_conflict() -> None:
    c = ConstraintSchema(cloud="aws", regions=["eu-west-1"], budget_monthly_usd=1000, workload_types=["online"],
                         sla_latency_ms=10, deployment_pref="serverless", data_classification="internal",
                         throughput_rps=50_000)
    qs = _ask(c, limit=5)
    conflict_qs = [q for q in qs if q.id.startswith("conflict:")]
    assert len(conflict_qs) == 2
    assert conflict_qs[0].blocking  # the latency/serverless contradiction comes first
    assert len({q.id for q in qs}) == len(qs)


def test_limit_respected() -> None:
    assert len(_ask(ConstraintSchema(), limit=1)) == 1
    assert _ask(ConstraintSchema(), limit=0) == []


def test_assumptions_for_non_blocking_gaps() -> None:
    c = ConstraintSchema(cloud="aws", workload_types=["online"])
    got = {a.field: a.value for a in assumptions(c, check_coverage(c))}
    assert got["availability_target"] == 99.9
    assert got["throughput_rps"] == 50.0
    assert got["deployment_pref"] == "containers"
    assert "regions" not in got and "data_classification" not in got and "cloud" not in got
    for a in assumptions(c, check_coverage(c)):
        assert a.reason
