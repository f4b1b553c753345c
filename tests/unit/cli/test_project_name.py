"""The project name `amp run` gives a new project: the requirement's first clause, whole words only."""

from __future__ import annotations

import pytest
from amp_cli.run import project_name


@pytest.mark.parametrize(("text", "name"), [
    ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second.",
     "Real-time card fraud scoring API"),
    ("Batch churn prediction on GCP us-central1, budget $2,000 per month", "Batch churn prediction"),
    ("Demand forecasting for 2,000 stores. Nightly batch.", "Demand forecasting for 2,000 stores"),
    ("I need an ML model for churn", "I need an ML model for churn"),
])
def test_the_first_clause_names_the_project(text: str, name: str) -> None:
    assert project_name(text) == name


def test_a_long_clause_is_cut_between_words() -> None:
    text = "An extraordinarily comprehensive multilingual document classification platform for regulated insurers"
    name = project_name(text, limit=40)
    assert len(name) <= 40
    assert text.startswith(name) and text[len(name)] == " "


def test_text_without_words_still_names_something() -> None:
    assert project_name("   ") == "ML system"
