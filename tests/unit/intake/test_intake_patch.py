"""Approval comments → constraint patches, and typed answers → an updated schema."""

from __future__ import annotations

import pytest
from amp_contracts import ConstraintSchema, ValidationFailed
from amp_domain.requirements.extraction import apply_answers, extract_patch

BASE = ConstraintSchema(cloud="aws", regions=["eu-west-1"], budget_monthly_usd=6000, compliance=["pci_dss"],
                        workload_types=["online"], deployment_pref="serverless", data_classification="pci")


def test_region_replaced_with_instead() -> None:
    assert extract_patch("use eu-central-1 instead", BASE) == {"regions": ["eu-central-1"]}


def test_region_added_without_instead() -> None:
    assert extract_patch("also deploy to eu-west-2", BASE) == {"regions": ["eu-west-1", "eu-west-2"]}


def test_city_resolves_with_current_cloud() -> None:
    assert extract_patch("move to Frankfurt instead", BASE) == {"regions": ["eu-central-1"]}


def test_budget_set() -> None:
    assert extract_patch("budget is $4k", BASE) == {"budget_monthly_usd": 4000}


def test_no_serverless_means_containers() -> None:
    assert extract_patch("no serverless", BASE) == {"deployment_pref": "containers"}


def test_compliance_added() -> None:
    assert extract_patch("also add GDPR", BASE) == {"compliance": ["pci_dss", "gdpr"]}


def test_compliance_replaced_with_only() -> None:
    assert extract_patch("only SOC 2 applies", BASE) == {"compliance": ["soc2"]}


def test_list_item_dropped() -> None:
    current = BASE.model_copy(update={"existing_stack": ["kafka", "snowflake"]})
    assert extract_patch("drop Kafka", current) == {"existing_stack": ["snowflake"]}


def test_latency_alone_does_not_add_workloads() -> None:
    current = BASE.model_copy(update={"workload_types": ["batch"]})
    assert extract_patch("make the p95 100 ms", current) == {"sla_latency_ms": 100}


def test_nothing_parsed_gives_empty_patch() -> None:
    assert extract_patch("Looks good to me, ship it.", BASE) == {}
    assert extract_patch("", BASE) == {}


def test_unchanged_values_are_not_in_patch() -> None:
    assert extract_patch("budget stays at $6k per month on AWS", BASE) == {}


# ------------------------------------------------------------------ apply_answers

def test_typed_answers_are_coerced() -> None:
    got = apply_answers(ConstraintSchema(), {"budget_monthly_usd": "6000", "regions": "eu-west-1",
                                              "workload_types": "batch", "cloud": "Amazon Web Services",
                                              "availability_target": "99.9%", "sla_latency_ms": "200ms",
                                              "compliance": "PCI DSS, SOC 2", "gpu": "no"})
    assert got.budget_monthly_usd == 6000.0
    assert got.regions == ["eu-west-1"]
    assert got.workload_types == ["batch"]
    assert got.cloud == "aws"
    assert got.availability_target == 99.9
    assert got.sla_latency_ms == 200
    assert got.compliance == ["pci_dss", "soc2"]
    assert got.gpu is False


def test_region_places_resolve_for_answered_cloud() -> None:
    got = apply_answers(ConstraintSchema(), {"cloud": "azure", "regions": ["Frankfurt", "West Europe"]})
    assert got.regions == ["germanywestcentral", "westeurope"]


def test_budget_answer_with_units() -> None:
    assert apply_answers(ConstraintSchema(), {"budget_monthly_usd": "$72k/yr"}).budget_monthly_usd == 6000


def test_free_text_merged_and_typed_answers_win() -> None:
    got = apply_answers(BASE, {"budget_monthly_usd": 5000}, text="Budget $9k per month, and add GDPR.")
    assert got.budget_monthly_usd == 5000
    assert got.compliance == ["pci_dss", "gdpr"]


def test_none_answer_leaves_field() -> None:
    assert apply_answers(BASE, {"budget_monthly_usd": None}).budget_monthly_usd == 6000


@pytest.mark.parametrize("answers,field", [
    ({"budget_monthly_usd": "lots"}, "budget_monthly_usd"), ({"cloud": "oracle"}, "cloud"),
    ({"regions": "atlantis-1"}, "regions"), ({"workload_types": ["batch", "quantum"]}, "workload_types"),
    ({"availability_target": 150}, "availability_target"), ({"sla_latency_ms": 0}, "sla_latency_ms"),
    ({"budget_monthly_usd": -5}, "budget_monthly_usd"), ({"data_classification": "secret-ish"}, "data_classification"),
    ({"compliance": ["hitrust"]}, "compliance"), ({"favourite_colour": "blue"}, "favourite_colour"),
    ({"gpu": "maybe"}, "gpu"), ({"budget_monthly_usd": True}, "budget_monthly_usd"),
])
def test_invalid_answers_raise_naming_the_field(answers: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        apply_answers(BASE, answers)
    assert field in err.value.message
