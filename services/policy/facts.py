"""The typed facts policy rules read, built from constraints, plan (with catalog attributes) and cost.

Rules never see requirement text: only these fields (documented in rules.yaml), so the outcome
is deterministic and no prompt can talk a rule out of failing.
"""

from __future__ import annotations

from typing import Any

from amp_contracts import ConstraintSchema, CostEstimate, Plan
from amp_domain.catalog import ELIGIBILITY, load_catalog, region_geo
from amp_domain.compliance import SECURITY_CAPS, is_sensitive, required_regimes


def build_context(constraints: ConstraintSchema, plan: Plan, cost: CostEstimate,
                  previous_cost: CostEstimate | None, params: dict[str, Any]) -> dict[str, Any]:
    """The typed facts rules read (documented in rules.yaml)."""
    cat = load_catalog(plan.cloud) if plan.cloud in ("aws", "gcp", "azure") else None
    comps = []
    for c in plan.components:
        p = cat.pattern(c.pattern_id) if cat else None
        comps.append({"capability": c.capability, "pattern_id": c.pattern_id, "regions": list(c.regions),
                      "deployment": c.deployment, "compliance": list(p.compliance) if p else [],
                      "multi_az": p.multi_az if p else False, "multi_region_capable": p.multi_region_capable if p else False,
                      "latency_floor_ms": p.latency_floor_ms if p else None})
    caps = [c["capability"] for c in comps]
    component_regions = sorted({r for c in comps for r in c["regions"]})
    allowed = list(constraints.regions) or list(plan.regions)
    adequate = set(params.get("gdpr_adequate_geos", []))
    geos = {r: region_geo(r) for r in component_regions}
    budget = constraints.budget_monthly_usd
    total = cost.monthly_usd

    by_cap = {c["capability"]: c for c in comps}
    path_floor = path_pattern = None
    online = "online" in (constraints.workload_types or ["online"])
    if online and "serving_online" in by_cap:
        # A feature store in an online plan is read on every request (the technical critic's coupling risk):
        # its floor adds to the serving one.
        on_path = [by_cap[k] for k in ("feature_store", "serving_online") if k in by_cap]
        floors = [x["latency_floor_ms"] for x in on_path if x["latency_floor_ms"] is not None]
        if by_cap["serving_online"]["latency_floor_ms"] is not None:
            path_floor, path_pattern = sum(floors), " + ".join(x["pattern_id"] for x in on_path
                                                               if x["latency_floor_ms"] is not None)
    elif not online:
        stream = [by_cap[k] for k in ("ingest_stream", "stream_processing") if k in by_cap]
        floors = [s["latency_floor_ms"] for s in stream if s["latency_floor_ms"] is not None]
        if floors:
            path_floor, path_pattern = sum(floors), " + ".join(s["pattern_id"] for s in stream)
    critical = next((by_cap[k] for k in ("serving_online", "stream_processing", "serving_batch") if k in by_cap), None)

    prev = previous_cost.monthly_usd if previous_cost is not None else None
    delta_usd = round(total - prev, 2) if prev is not None else None
    delta_pct = round(100.0 * (total - prev) / prev, 2) if prev else None
    warn_pct = float(params.get("budget_warn_pct", 10))
    return {
        "constraints": constraints.model_dump(mode="json"),
        "params": params,
        "budget": budget,
        "budget_warn_limit": round(budget * (1 + warn_pct / 100), 2) if budget is not None else None,
        "budget_used_pct": round(100.0 * total / budget, 1) if budget else None,
        "cost": {"monthly_usd": total, "low_usd": cost.low_usd, "high_usd": cost.high_usd},
        "previous_cost": prev, "delta_usd": delta_usd, "delta_pct": delta_pct,
        "data_class": constraints.data_classification,
        "sensitive": is_sensitive(constraints),
        "regimes": required_regimes(constraints),
        "plan": {"cloud": plan.cloud, "regions": list(plan.regions), "capabilities": caps, "components": comps},
        "component_count": len(comps),
        "allowed_regions": allowed,
        "component_regions": component_regions,
        "regions_outside": [r for r in component_regions if r not in allowed],
        "residency_outside": [r for r in component_regions
                              if constraints.data_residency and geos[r] != constraints.data_residency],
        "missing_controls": [cap for cap in SECURITY_CAPS if cap not in caps],
        "not_eligible": {reg: [c["pattern_id"] for c in comps if reg not in c["compliance"]] for reg in ELIGIBILITY},
        "eea_regions": [r for r in component_regions if geos[r] == "eea"],
        "adequacy_regions": [r for r in component_regions if geos[r] in adequate],
        "non_adequate_regions": [r for r in component_regions if geos[r] != "eea" and geos[r] not in adequate],
        "sla_ms": constraints.sla_latency_ms,
        "path_latency_floor_ms": path_floor, "path_pattern": path_pattern,
        "availability": constraints.availability_target,
        "critical_path_pattern": critical["pattern_id"] if critical else None,
        "critical_path_regions": critical["regions"] if critical else [],
        "single_az_components": [c["pattern_id"] for c in comps if not c["multi_az"]],
    }
