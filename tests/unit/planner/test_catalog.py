"""The catalog is complete, well-formed and fully priced (a validator over the data files)."""

from __future__ import annotations

import re

import pytest
from amp_contracts import CAPABILITIES, ConstraintSchema
from amp_domain.assessment import sizing_inputs
from amp_domain.catalog import (
    CLOUDS,
    ExpressionError,
    Pattern,
    catalog_version,
    evaluate,
    expression_names,
    load_catalog,
    load_meta,
    render,
)

from services.critics.cost import load_pricebook

#: Capabilities for which one pattern per cloud is enough.
SINGLE_OK = {"security_kms", "networking_private", "audit_logging", "ci_cd"}
ID_RE = re.compile(r"^(aws|gcp|azure):([a-z_]+):([a-z0-9][a-z0-9._-]*)$")


def _patterns(cloud: str) -> list[Pattern]:
    return load_catalog(cloud).patterns


def test_catalog_version_is_stated() -> None:
    assert re.match(r"^\d{4}\.\d{2}\.\d+$", catalog_version())


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_pattern_is_complete(cloud: str) -> None:
    required = set(Pattern.model_fields)
    for p in _patterns(cloud):
        dumped = p.model_dump()
        assert required <= set(dumped), p.id
        for key in ("name", "service", "summary"):
            assert dumped[key].strip(), f"{p.id}: empty {key}"
        assert p.pros and p.cons, f"{p.id}: pros and cons are stated"
        # Sizing is stated, unless the pattern runs nothing of its own to size: its bill reads
        # only plan-wide inputs (logs ingested), or it has none (a reused system).
        plan_wide = set(sizing_inputs(ConstraintSchema(cloud=cloud)))
        assert p.sizing or all(set(expression_names(str(b.qty))) <= plan_wide for b in p.bom), \
            f"{p.id}: sizing rules are stated"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_ids_name_cloud_capability_and_pattern(cloud: str) -> None:
    for p in _patterns(cloud):
        m = ID_RE.match(p.id)
        assert m, p.id
        assert m.group(1) == cloud and m.group(2) in CAPABILITIES, p.id
        if p.requires_existing:
            assert any(t in m.group(3) for t in p.requires_existing), f"{p.id} names what it reuses"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_capability_has_enough_patterns(cloud: str) -> None:
    cat = load_catalog(cloud)
    for cap in CAPABILITIES:
        n = len([p for p in cat.for_capability(cap) if not p.requires_existing])
        assert n >= (1 if cap in SINGLE_OK else 2), f"{cloud}:{cap} has {n} new-infrastructure patterns"


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("pref", ["serverless", "containers"])
def test_every_capability_has_an_option_for_each_deployment_preference(cloud: str, pref: str) -> None:
    forbidden = {"serverless": "containers", "containers": "serverless"}[pref]
    cat = load_catalog(cloud)
    for cap in CAPABILITIES:
        ok = [p for p in cat.for_capability(cap) if p.deployment != forbidden and not p.requires_existing]
        assert ok, f"{cloud}:{cap} has no pattern for deployment_pref={pref}"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_reuse_patterns_exist_for_the_common_existing_tools(cloud: str) -> None:
    ids = {p.id for p in _patterns(cloud)}
    assert f"{cloud}:ingest_stream:kafka-existing" in ids
    assert f"{cloud}:registry:mlflow-existing" in ids
    assert f"{cloud}:orchestration:airflow-existing" in ids


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_bom_item_is_priced_in_every_supported_region(cloud: str) -> None:
    book = load_pricebook()
    cat = load_catalog(cloud)
    regions = cat.region_codes()
    assert cat.default_region in regions and cat.gdpr_default_region in regions
    for code in regions:
        assert code in book.multipliers[cloud], f"{cloud}:{code} has no price multiplier"
    for p in cat.patterns:
        supported = [r for r in regions if p.available_in(r)]
        assert supported, f"{p.id} is available nowhere"
        for item in p.bom:
            price = book.prices.get(item.key)
            assert price is not None, f"{p.id}: {item.key} not in the price book"
            assert price.unit == item.unit, f"{p.id}: {item.key} unit {item.unit} != price book {price.unit}"
            for region in supported:
                assert book.unit_price(item.key, cloud, region) > 0


@pytest.mark.parametrize("cloud", CLOUDS)
def test_sizing_and_bom_rules_evaluate_over_the_sizing_inputs(cloud: str) -> None:
    for gpu in (False, True):
        env = {**sizing_inputs(ConstraintSchema(throughput_rps=1234, gpu=gpu)), "region_count": 1}
        for p in _patterns(cloud):
            sizing: dict = {}
            for key, expr in p.sizing.items():
                sizing[key] = evaluate(expr, {**env, **sizing})
            for item in p.bom:
                qty = evaluate(item.qty, {**env, **sizing})
                assert isinstance(qty, (int, float)) and qty >= 0, f"{p.id}: {item.key} qty {qty!r}"
                assert "{" not in render(item.label, {**env, **sizing}), f"{p.id}: label {item.label!r}"


def test_region_codes_are_unique_across_clouds() -> None:
    seen: dict[str, str] = {}
    for cloud in CLOUDS:
        for code in load_catalog(cloud).region_codes():
            assert code not in seen, f"{code} in {seen.get(code)} and {cloud}"
            seen[code] = cloud


def test_meta_inputs_name_constraint_fields() -> None:
    fields = set(ConstraintSchema.model_fields)
    for name, spec in load_meta().sizing.inputs.items():
        assert spec.field in fields, name


def test_expressions_are_whitelisted() -> None:
    assert evaluate("max(2, ceil(rps / 400))", {"rps": 1000}) == 3
    assert evaluate("'g5' if gpu else 'c5'", {"gpu": 1}) == "g5"
    assert evaluate("x / 0", {"x": 3}) == 0
    assert expression_names("max(az, ceil(rps / per))") == ["az", "per", "rps"]
    for bad in ("__import__('os')", "x.__class__", "[1, 2]", "lambda: 1", "open('f')", "x[0]"):
        with pytest.raises(ExpressionError):
            evaluate(bad, {"x": 1})
    with pytest.raises(ExpressionError):
        evaluate("unknown + 1", {})
