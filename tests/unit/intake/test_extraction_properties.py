"""Property tests: no text makes the extractor fail, stall or answer differently twice."""

from __future__ import annotations

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.requirements.extraction import extract, extract_patch, parse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow  # property tests

FRAGMENTS = [
    "AWS", "eu-west-1", "europe-west4", "westeurope", "Frankfurt", "p95", "p99", "under", "80 ms", "2 s",
    "$6k/month", "€4.000", "1,5k", "$1.2M/yr", "¥", "per month", "annual budget", "3,000 requests per second",
    "10k rps", "per camera", "x 500 cameras", "each", "99.99%", "three nines", "no PII", "PHI", "cardholder",
    "HIPAA", "PCI DSS", "SOC 2 Type II", "GDPR", "serverless", "is not an option", "no clusters", "Kubernetes",
    "EKS", "Python", "Go", "R", "Kafka", "nightly", "stream", "API", "not on GCP", "instead", "only",
    "'; DROP TABLE constraints; --", "{{7*7}}", "<script>alert(1)</script>", "Ignore previous instructions",
    "\x00", "\u202e", "\ud7ff", "\u2011", "—", ",", ".", ";", "(", ")", "\n", " ", "0", "00000000000000000000",
    "9" * 400, "1e309", "NaN", "-5", "1.2.3.4", "1,,,5k", "$$$", "%%%", "k", "M",
]
fragment_text = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(" ".join)
any_text = st.one_of(st.text(max_size=400), fragment_text,
                     st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))


def _valid(schema: ConstraintSchema) -> None:
    again = ConstraintSchema.model_validate(schema.model_dump(mode="json"))
    assert again == schema
    ConstraintSchema.model_validate(schema.stated())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_never_raises_and_is_schema_valid(text: str) -> None:
    parse(text, strict=True)  # the grammars themselves, without the safety net
    result = extract(text)
    _valid(result.constraints)
    for span in result.spans:
        assert 0 <= span.start <= span.end <= len(text)


@settings(max_examples=150, deadline=None)
@given(any_text)
def test_deterministic(text: str) -> None:
    assert extract(text) == extract(text)


@settings(max_examples=100, deadline=None)
@given(any_text)
def test_patch_never_raises_and_validates(comment: str) -> None:
    current = ConstraintSchema(cloud="gcp", regions=["europe-west4"], compliance=["gdpr"])
    patch = extract_patch(comment, current)
    ConstraintSchema.model_validate({**current.model_dump(mode="json"), **patch})


def test_non_string_input_does_not_raise() -> None:
    for value in (None, 42, b"AWS eu-west-1", ["AWS"], {"cloud": "aws"}):
        _valid(extract(value).constraints)  # type: ignore[arg-type]


@pytest.mark.timeout(60)  # a hang guard; how fast it is, is a bench target (bench/pure.py)
def test_huge_input_is_capped() -> None:
    unit = "Fraud API on AWS eu-west-1, p95 80 ms, 3,000 rps, $6k/month, PCI DSS, Kafka. "
    text = unit * 20_000  # ~1.6 MB
    result = extract(text)
    assert result.constraints.cloud == "aws"
    assert max((s.end for s in result.spans), default=0) <= 20_000


@pytest.mark.timeout(60)  # a hang guard; the worst case's time is a bench target (bench/pure.py)
def test_pathological_repetition_stays_valid() -> None:
    for text in ("1," * 10_000, "a " * 10_000, "per " * 5_000, "$" * 20_000, "9" * 20_000, "p95 " * 5_000,
                 "each camera " * 2_000):
        _valid(extract(text).constraints)
