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
    assert region_q.options[0] == "europe-west1"  # suggested first, never pre-selected: the field is required
    assert region_q.blocking and region_q.default is None


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


def _answerable(q, c: ConstraintSchema) -> None:
    """A question is answerable with what it offers: each option applies as an answer to its field."""
    from amp_domain.requirements.extraction import apply_answers

    offered = list(q.options)
    if q.depends_on and q.options_by:
        offered = [o for opts in q.options_by.values() for o in opts]
    for option in offered[:6]:
        value = [option] if q.kind == "multi" else option
        answered = apply_answers(c, {q.field: value}, "")
        assert getattr(answered, q.field) not in (None, [], ""), (q.id, option)
    if q.blocking:
        assert q.default is None, f"{q.id} is required and must not be pre-answered"


CONFLICTING = [
    ConstraintSchema(cloud="gcp", regions=["us-east-1"], data_classification="pii"),
    ConstraintSchema(cloud="aws", regions=["mars-north-9"]),
    ConstraintSchema(cloud="aws", regions=["eu-west-1"], deployment_pref="serverless", sla_latency_ms=10,
                     throughput_rps=50_000, workload_types=["online"]),
    ConstraintSchema(cloud="aws", regions=["us-east-1"], compliance=["hipaa"], data_classification="public"),
    ConstraintSchema(cloud="aws", regions=["us-east-1"], data_classification="pci"),
    ConstraintSchema(cloud="aws", regions=["us-east-1"], data_classification="phi"),
    ConstraintSchema(cloud="aws", regions=["us-east-1"], availability_target=99.99),
    ConstraintSchema(cloud="azure", regions=["westeurope"], compliance=["fedramp"]),
]


def test_every_conflict_question_asks_a_real_field_with_valid_options() -> None:
    for c in CONFLICTING:
        cov = check_coverage(c)
        assert cov.conflicts, c
        qs = [q for q in next_questions(c, cov, limit=10) if q.id.startswith("conflict:")]
        assert qs, c
        for q in qs:
            assert q.field in ConstraintSchema.model_fields
            assert not any(str(o).startswith("change ") for o in q.options)
            _answerable(q, c)


def test_regions_of_another_cloud_are_resolved_with_the_chosen_clouds_regions() -> None:
    """The dead end of a first round that picked gcp while an aws region stayed selected."""
    c = ConstraintSchema(cloud="gcp", regions=["us-east-1"], data_classification="pii")
    q = next(q for q in _ask(c) if q.id.startswith("conflict:"))
    assert q.field == "regions" and q.blocking and q.default is None
    assert q.options and all(gazetteer().cloud_of_region(o) == "gcp" for o in q.options)
    fixed = apply_then_cover(c, {"regions": [q.options[0]]})
    assert not fixed.conflicts


def apply_then_cover(c: ConstraintSchema, answers: dict):
    from amp_domain.requirements.extraction import apply_answers

    return check_coverage(apply_answers(c, answers, ""))


def test_region_options_follow_a_cloud_asked_in_the_same_round() -> None:
    qs = _ask(ConstraintSchema())
    cloud_q = next(q for q in qs if q.field == "cloud")
    region_q = next(q for q in qs if q.field == "regions")
    assert region_q.depends_on == "cloud" and set(region_q.options_by) == set(cloud_q.options)
    for cloud, regions in region_q.options_by.items():
        assert regions and all(gazetteer().cloud_of_region(r) == cloud for r in regions)
    assert region_q.default is None


def test_every_required_question_is_left_for_the_person() -> None:
    for text in ("I want a churn model.", "Fraud scoring API, p95 50 ms", "Nightly batch on GCP",
                 "Recommendations for our shop, EU customers"):
        c = extract(text).constraints
        for q in _ask(c, limit=10):
            _answerable(q, c)
