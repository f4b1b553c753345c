"""Coverage score, blocking fields and conflicts."""

from __future__ import annotations

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.requirements.coverage import WEIGHTS, check_coverage

FULL = ConstraintSchema(cloud="aws", regions=["eu-west-1", "eu-central-1"], budget_monthly_usd=6000,
                        workload_types=["online"], sla_latency_ms=80, data_classification="pci",
                        compliance=["pci_dss"], availability_target=99.9, throughput_rps=3000,
                        deployment_pref="containers")


def test_full_schema_passes_with_score_one() -> None:
    cov = check_coverage(FULL)
    assert cov.passed and cov.score == pytest.approx(1.0)
    assert not cov.missing and not cov.blocking and not cov.conflicts
    assert sum(cov.weights.values()) == pytest.approx(1.0)


def test_empty_schema_blocks() -> None:
    cov = check_coverage(ConstraintSchema())
    assert cov.score == 0 and not cov.passed
    assert cov.blocking == ["regions", "data_classification"]
    assert "cloud" in cov.missing and "budget_monthly_usd" in cov.missing


def test_latency_only_mandatory_for_realtime_work() -> None:
    batch = ConstraintSchema(cloud="gcp", regions=["europe-west4"], budget_monthly_usd=800, workload_types=["batch"],
                             data_classification="pii")
    cov = check_coverage(batch)
    assert "sla_latency_ms" not in cov.missing and "sla_latency_ms" not in cov.weights
    assert cov.passed
    online = batch.model_copy(update={"workload_types": ["online"]})
    assert "sla_latency_ms" in check_coverage(online).missing


def test_blocking_field_fails_even_with_high_score() -> None:
    c = FULL.model_copy(update={"data_classification": None})
    cov = check_coverage(c, threshold=0.5)
    assert cov.score >= 0.5 and cov.blocking == ["data_classification"] and not cov.passed


def test_weights_documented_and_normalised() -> None:
    assert set(check_coverage(FULL).weights) == set(WEIGHTS)


def _conflict_fields(c: ConstraintSchema) -> dict[tuple[str, ...], str]:
    return {tuple(x.fields): x.severity for x in check_coverage(c).conflicts}


@pytest.mark.parametrize("update,fields,severity", [
    ({"deployment_pref": "serverless", "sla_latency_ms": 10}, ("deployment_pref", "sla_latency_ms"), "block"),
    ({"deployment_pref": "serverless", "throughput_rps": 50_000}, ("deployment_pref", "throughput_rps"), "warn"),
    ({"compliance": ["hipaa"], "data_classification": "public"}, ("compliance", "data_classification"), "block"),
    ({"compliance": []}, ("data_classification", "compliance"), "warn"),
    ({"regions": ["europe-west4"]}, ("cloud", "regions"), "block"),
    ({"availability_target": 99.99, "regions": ["eu-west-1"]}, ("availability_target", "regions"), "warn"),
    ({"sla_latency_ms": 2}, ("sla_latency_ms",), "warn"),
])
def test_conflicts(update: dict, fields: tuple[str, ...], severity: str) -> None:
    got = _conflict_fields(FULL.model_copy(update=update))
    assert got.get(fields) == severity


def test_pci_compliance_without_pci_data_is_fine() -> None:
    c = FULL.model_copy(update={"data_classification": "internal"})
    assert check_coverage(c).conflicts == []


def test_block_conflict_fails_coverage() -> None:
    c = FULL.model_copy(update={"regions": ["westeurope"]})
    assert not check_coverage(c).passed
