"""The cost critic: BOM pricing, sums, ranges, regional prices, deltas, realistic magnitudes."""

from __future__ import annotations

import re

import pytest
from amp_contracts import Component, ConstraintSchema, CostEstimate, Plan
from amp_domain.assessment import build_context, size_pattern
from amp_domain.catalog import CLOUDS, load_catalog

from services.critics.cost import estimate, load_pricebook
from services.planner.planning import compose_plan


def _cost(**kw: object) -> CostEstimate:
    c = ConstraintSchema.model_validate(kw)
    return estimate(compose_plan(c), c)


def test_price_book_is_dated_and_sourced() -> None:
    book = load_pricebook()
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", book.as_of) and book.source.strip()
    assert _cost().price_book == f"{book.name}@{book.as_of}"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_total_is_the_exact_sum_of_the_breakdown(cloud: str) -> None:
    cost = _cost(cloud=cloud, workload_types=["online", "streaming", "batch"], data_classification="pii",
                 throughput_rps=1234.5, data_volume_gb=777)
    assert cost.monthly_usd == round(sum(b.usd for b in cost.breakdown), 2)
    assert cost.low_usd < cost.monthly_usd < cost.high_usd
    for item in cost.breakdown:
        assert item.usd == round(item.usd, 2) and item.component and item.region and item.unit_price_usd
        assert item.component.startswith(cloud + ":") and item.qty
    assert any("730 h" in b.qty for b in cost.breakdown)
    assert any("list prices" in a for a in cost.assumptions)


def test_sizing_drives_cost() -> None:
    small = _cost(cloud="aws", throughput_rps=100, deployment_pref="containers")
    big = _cost(cloud="aws", throughput_rps=10000, deployment_pref="containers")
    gpu = _cost(cloud="aws", throughput_rps=10000, deployment_pref="containers", gpu=True)
    assert small.monthly_usd < big.monthly_usd < gpu.monthly_usd
    more_data = _cost(cloud="aws", data_volume_gb=50000)
    assert more_data.monthly_usd > _cost(cloud="aws", data_volume_gb=10).monthly_usd


def test_realistic_orders_of_magnitude() -> None:
    assert _cost(cloud="aws", regions=["us-east-1"], throughput_rps=20000, sla_latency_ms=30, gpu=True,
                 deployment_pref="containers", availability_target=99.95).monthly_usd > 5000
    small_batch = _cost(cloud="azure", workload_types=["batch"], deployment_pref="serverless",
                        training_cadence="weekly", data_volume_gb=50)
    assert 10 < small_batch.monthly_usd < 1000


def test_regional_prices_and_unknown_regions() -> None:
    us = _cost(cloud="aws", regions=["us-east-1"], throughput_rps=1000)
    sa = _cost(cloud="aws", regions=["sa-east-1"], throughput_rps=1000)
    assert sa.monthly_usd > us.monthly_usd
    odd = _cost(cloud="aws", regions=["mars-north-1"])
    assert any("not in the price book" in a for a in odd.assumptions)


def test_multi_region_components_are_priced_per_region() -> None:
    cost = _cost(cloud="aws", regions=["us-east-1", "us-west-2"], availability_target=99.99, throughput_rps=1000)
    serving = {b.region for b in cost.breakdown if ":serving_online:" in (b.component or "")}
    assert serving == {"us-east-1", "us-west-2"}


def test_shared_cluster_is_priced_once_per_region() -> None:
    # Two components of different capabilities whose patterns share one BOM item (a cluster control plane).
    c = ConstraintSchema(cloud="aws", regions=["us-east-1"], workload_types=["online", "streaming"])
    ctx = build_context(c)
    shared = [(p, b.key) for p in load_catalog("aws").patterns for b in p.bom if b.shared]
    key = next(k for _, k in shared if len({p.capability for p, kk in shared if kk == k}) >= 2)
    picks = list({p.capability: p for p, k in shared if k == key}.values())[:2]
    comps = [Component(capability=p.capability, pattern_id=p.id, service=p.service, regions=["us-east-1"],
                       deployment=p.deployment,
                       sizing=size_pattern(p, ctx, ["us-east-1"])) for p in picks]
    cost = estimate(Plan(cloud="aws", regions=["us-east-1"], components=comps), c)
    lines = [b for b in cost.breakdown if b.unit_price_usd is not None
             and b.service == load_pricebook().prices[key].service]
    assert len(lines) == 1


def test_reused_systems_add_no_new_spend() -> None:
    c = ConstraintSchema(cloud="gcp", workload_types=["streaming"], existing_stack=["kafka"])
    plan = compose_plan(c)
    assert plan.component("ingest_stream").pattern_id == "gcp:ingest_stream:kafka-existing"
    cost = estimate(plan, c)
    assert not [b for b in cost.breakdown if b.component == "gcp:ingest_stream:kafka-existing"]
    assert any("already paid for" in a for a in cost.assumptions)


def test_a_free_pattern_is_not_said_to_reuse_anything() -> None:
    """Google Cloud's private network (Private Google Access) has no charge; it reuses nothing either."""
    c = ConstraintSchema(cloud="gcp", data_classification="pii", workload_types=["batch"])
    plan = compose_plan(c)
    comp = plan.component("networking_private")
    assert comp is not None and not load_catalog("gcp").pattern(comp.pattern_id).requires_existing
    notes = [a for a in estimate(plan, c).assumptions if comp.pattern_id in a]
    assert notes and all("already paid for" not in a and "no charge of its own" in a for a in notes), notes


def test_a_reused_airflow_prices_only_the_workflow_it_starts() -> None:
    c = ConstraintSchema(cloud="gcp", workload_types=["batch"], existing_stack=["airflow"])
    plan = compose_plan(c)
    assert plan.component("orchestration").pattern_id == "gcp:orchestration:airflow-existing"
    items = [b for b in estimate(plan, c).breakdown if b.component == "gcp:orchestration:airflow-existing"]
    assert [b.service for b in items] == ["Workflows internal steps"] and 0 < items[0].usd < 1


def test_delta_against_previous() -> None:
    c = ConstraintSchema(cloud="aws", throughput_rps=1000)
    prev = estimate(compose_plan(c), c)
    c2 = ConstraintSchema(cloud="aws", throughput_rps=4000)
    cur = estimate(compose_plan(c2), c2, previous=prev)
    assert cur.delta_vs_prev_usd == round(cur.monthly_usd - prev.monthly_usd, 2)
    assert cur.delta_vs_prev_pct == pytest.approx(100 * cur.delta_vs_prev_usd / prev.monthly_usd, abs=0.01)
    assert estimate(compose_plan(c), c).delta_vs_prev_usd is None


def test_active_active_regions_share_the_traffic_instead_of_paying_it_twice() -> None:
    """Two regions at 99.99 %: per-request usage is the traffic's, split between them, not paid twice
    (always-on capacity stays whole in each: it takes the other's load when that region fails)."""
    def priced(regions: list[str]) -> dict[str, float]:
        c = ConstraintSchema(cloud="gcp", regions=regions, availability_target=99.99, workload_types=["online"],
                             throughput_rps=3000, sla_latency_ms=100)
        plan = compose_plan(c)
        usage: dict[str, float] = {}
        book = load_pricebook()
        serving = plan.component("serving_online")
        for line in estimate(plan, c).breakdown:
            if line.component != serving.pattern_id:
                continue
            if next(p.kind for p in book.prices.values() if p.service == line.service) == "usage":
                usage[line.service] = usage.get(line.service, 0.0) + line.usd
        return usage

    one_usage = priced(["asia-northeast1"])
    two_usage = priced(["asia-northeast1", "asia-northeast2"])
    assert one_usage and set(one_usage) == set(two_usage)
    for service, usd in one_usage.items():
        assert two_usage[service] == pytest.approx(usd, rel=0.05), service
