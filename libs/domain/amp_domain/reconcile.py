"""The bill of materials of one component: its catalog BOM evaluated over a sizing, priced per region.

One function for the cost critic (over the plan's sizing) and the validators' cost reconciliation
(over the sizing rendered into each environment's tfvars), so an estimate and what is built are
priced by the same rule: a difference between them is a difference in what is built.
"""

from __future__ import annotations

from typing import Any

from amp_contracts import Component, ConstraintSchema

from .assessment import resolve_workloads, sizing_inputs
from .catalog import CLOUDS, BomItem, evaluate, expression_names, load_catalog
from .pricing import load_pricebook

#: Sizing names that scale with the traffic: a usage line reading them is split across active regions.
TRAFFIC = frozenset({"rps", "avg_rps", "mreq", "serve_rps", "serve_mreq", "stream_gb", "log_gb"})


def component_env(sizing: dict[str, Any], base: dict[str, Any], regions: list[str]) -> dict[str, Any]:
    own = {k: v for k, v in sizing.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    return {**base, "region_count": len(regions), **own}


def priced_items(cloud: str, component: Component, sizing: dict[str, Any], base: dict[str, Any],
                 shared_seen: set[tuple[str, str]] | None = None
                 ) -> list[tuple[BomItem, float, dict[str, Any], str, float]]:
    """(BOM item, quantity, env, region, usd) per item and region; shared items once per region."""
    shared_seen = set() if shared_seen is None else shared_seen
    pattern = load_catalog(cloud).pattern(component.pattern_id) if cloud in CLOUDS else None
    if pattern is None or not pattern.bom:
        return []
    book = load_pricebook()
    regions = list(component.regions or [])
    env = component_env(sizing, base, regions)
    out = []
    for item in pattern.bom:
        qty = float(evaluate(item.qty, env))
        if qty <= 0:
            continue
        item_env = env
        if len(regions) > 1 and book.prices[item.key].kind == "usage" and TRAFFIC & set(expression_names(item.qty)):
            # Active-active: each region answers its share of the traffic, while capacity (fixed
            # lines) is kept whole in each, to take the other's load when it fails.
            qty /= len(regions)
            item_env = {**env, "traffic_share_regions": len(regions)}
        for region in regions:
            if item.shared:
                if (item.key, region) in shared_seen:
                    continue
                shared_seen.add((item.key, region))
            unit = book.unit_price(item.key, cloud, region)
            out.append((item, qty, item_env, region, round(qty * unit + 0.0, 2)))
    return out


def bom_lines(cloud: str, component: Component, sizing: dict[str, Any], constraints: ConstraintSchema,
              shared_seen: set[tuple[str, str]] | None = None) -> list[tuple[str, str, float]]:
    """(price key, region, usd a month) of a component sized as `sizing`."""
    base = sizing_inputs(constraints, resolve_workloads(constraints, []), [])
    return [(item.key, region, usd)
            for item, _, _, region, usd in priced_items(cloud, component, sizing, base, shared_seen)]
