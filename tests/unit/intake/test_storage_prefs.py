"""A feature store the requirements ask for is a storage preference; one ruled out is not."""

from __future__ import annotations

import pytest
from amp_domain.requirements.extraction import extract


@pytest.mark.parametrize("text", [
    "Each request looks up fresh courier and restaurant features from an online feature store.",
    "We want a feature store so training and serving read the same features.",
    "Low-latency feature-store lookups at request time, p95 under 50 ms.",
    "Online features serving for the ranking API on GCP.",
])
def test_a_feature_store_asked_for_is_kept(text: str) -> None:
    assert extract(text).constraints.storage_prefs == ["feature-store"]


@pytest.mark.parametrize("text", [
    "No feature store is needed: the features arrive with each request.",
    "We don't want a feature store.",
    "Nightly batch scoring on AWS, features computed in SQL; a feature store is not required.",
    "Churn scores every night on GCP from BigQuery tables.",
])
def test_no_feature_store_unless_asked(text: str) -> None:
    assert "feature-store" not in extract(text).constraints.storage_prefs


def test_the_span_quotes_the_words() -> None:
    spans = [s for s in extract("Scores read features from our online feature store.").spans
             if s.field == "storage_prefs"]
    assert [s.text for s in spans] == ["online feature store"]
