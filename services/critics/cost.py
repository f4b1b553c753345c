"""The cost critic: a priced bill of materials for a plan, with a range and a delta.

Quantities come from the catalog's BOM rules evaluated over the component's sizing; prices
from the dated price book (pricebook.yaml). Each line is rounded to cents and the total is
the exact sum of the lines, so the breakdown always adds up.
"""

from __future__ import annotations

from typing import Any

from amp_contracts import Component, ConstraintSchema, CostEstimate, CostItem, Plan
from amp_domain.assessment import resolve_workloads, sizing_inputs
from amp_domain.catalog import CLOUDS, load_catalog, render
from amp_domain.pricing import load_pricebook
from amp_domain.reconcile import priced_items

#: Range factors: always-on capacity varies little; usage-priced lines with traffic and data.
RANGE = {"fixed": (0.9, 1.15), "usage": (0.5, 2.0)}
HOURS_PER_MONTH = 730


def _cents(x: float) -> float:
    return round(x + 0.0, 2)


def price_component(comp: Component, cloud: str, base: dict[str, Any], notes: list[str],
                    shared_seen: set[tuple[str, str]] | None = None) -> list[tuple[CostItem, str]]:
    """Priced lines of one component (one per BOM item and region), with each line's price kind.

    A `shared` BOM item (a cluster control plane) is priced once per region across the plan:
    `shared_seen` remembers which (key, region) pairs earlier components already paid for. The
    rule is `amp_domain.reconcile`'s, which the validators also apply to what is rendered.
    """
    book = load_pricebook()
    pattern = load_catalog(cloud).pattern(comp.pattern_id) if cloud in CLOUDS else None
    if pattern is None:
        notes.append(f"{comp.pattern_id} is not in the catalog: not priced")
        return []
    if not pattern.bom:
        if pattern.requires_existing:
            notes.append(f"{comp.pattern_id} reuses {', '.join(pattern.requires_existing)} already paid for: "
                         "no new spend priced")
        else:
            notes.append(f"{comp.pattern_id} ({pattern.name}) has no charge of its own: no spend priced")
        return []
    lines: list[tuple[CostItem, str]] = []
    for item, qty, env, region, usd in priced_items(cloud, comp, comp.sizing, base, shared_seen):
        price = book.prices[item.key]
        unit = book.unit_price(item.key, cloud, region)
        share = f", this region's 1/{env['traffic_share_regions']} of the traffic" if "traffic_share_regions" in env else ""
        lines.append((CostItem(service=price.service, qty=f"{render(item.label, env)} ({_fmt_qty(qty)} {item.unit}{share})",
                               usd=usd, component=comp.pattern_id, region=region, unit_price_usd=unit), price.kind))
    return lines


def _fmt_qty(q: float) -> str:
    return f"{q:,.0f}" if q >= 100 or float(q).is_integer() else f"{q:,.2f}"


def estimate(plan: Plan, constraints: ConstraintSchema, previous: CostEstimate | None = None) -> CostEstimate:
    """Monthly cost of the plan: priced BOM, low/high range, stated assumptions, delta vs previous."""
    book = load_pricebook()
    notes: list[str] = []
    base = sizing_inputs(constraints, resolve_workloads(constraints, []), notes)
    lines: list[tuple[CostItem, str]] = []
    shared_seen: set[tuple[str, str]] = set()
    for comp in plan.components:
        lines.extend(price_component(comp, plan.cloud, base, notes, shared_seen))
    breakdown = [item for item, _ in lines]
    total = _cents(sum(item.usd for item in breakdown))
    low = _cents(sum(item.usd * RANGE[kind][0] for item, kind in lines))
    high = _cents(sum(item.usd * RANGE[kind][1] for item, kind in lines))
    unknown = sorted({r for c in plan.components for r in c.regions if not book.multiplier(plan.cloud, r)[1]})
    assumptions = [
        f"on-demand list prices from {book.label} ({book.currency}), no commitments, free tiers or egress",
        f"always-on capacity billed {HOURS_PER_MONTH} h a month; range {RANGE['fixed'][0]:g}-{RANGE['fixed'][1]:g}x",
        (f"usage-priced lines (requests, GB, job hours) range {RANGE['usage'][0]:g}-{RANGE['usage'][1]:g}x with "
        "traffic and data"),
        (f"average load {base['avg_rps']:g} rps (35% of the {base['rps']:g} rps peak): {base['mreq']:g} M requests "
        "or events a month, 1 KB each"),
        *[n.replace(" not stated: sized for", " not stated: priced for") for n in notes],
    ]
    if base["serve_rps"] < base["rps"]:
        assumptions.append(f"online serving priced for its own {base['serve_rps']:g} requests/s peak "
                           f"({base['serve_mreq']:g} M requests a month), not the {base['rps']:g}/s of events")
    if unknown:
        assumptions.append(f"regions {', '.join(unknown)} not in the price book: priced at "
                           f"{book.unknown_region_multiplier:g}x the base region")
    delta_usd = delta_pct = None
    if previous is not None:
        delta_usd = _cents(total - previous.monthly_usd)
        delta_pct = round(100.0 * delta_usd / previous.monthly_usd, 2) if previous.monthly_usd > 0 else None
    return CostEstimate(monthly_usd=total, breakdown=breakdown, method="bom_v1", low_usd=low, high_usd=high,
                        assumptions=_dedupe(assumptions), price_book=book.label,
                        delta_vs_prev_usd=delta_usd, delta_vs_prev_pct=delta_pct)


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
