"""What a reviewer is approving: the version against the one before it, in one read model.

It also says where the constraints in force differ from what the requirement text states (a
reviewer's comment or an answer overrode it). The approval box and the terminal's gate show the same thing: the constraints (before → after
from version 2 on, and whether the reviewer's comment or new requirements changed them), the
cost with its range and the budget, every cost line with its quantity, unit price and change
against the previous version (as a cost diff on a pull request), the policy results with what
changed, and the risks.
"""

from __future__ import annotations

from typing import Any

from amp_domain.labels import field_label, value_text
from amp_domain.requirements.extraction import extract


def _stated(constraints: Any) -> dict[str, Any]:
    return {k: v for k, v in (constraints or {}).items() if v not in (None, [], "")}


def _lines(cost: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Cost lines by (component, service), regions summed: a line that moved region is the same line."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for item in cost.get("breakdown") or []:
        key = (str(item.get("component") or ""), str(item.get("service") or ""))
        line = out.setdefault(key, {"service": item.get("service"), "component": item.get("component"), "regions": [],
                                    "qty": item.get("qty"), "unit_price_usd": item.get("unit_price_usd"), "usd": 0.0})
        if item.get("region") and item["region"] not in line["regions"]:
            line["regions"].append(item["region"])
        if line["qty"] != item.get("qty"):
            line["qty"] = "; ".join(q for q in (line["qty"], item.get("qty")) if q)
        line["usd"] = round(line["usd"] + (item.get("usd") or 0.0), 2)
    return out


def _why_changed(ds: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
    approval = parent.get("approval") or {}
    if parent.get("status") == "superseded" and approval.get("status") in ("approved", "changes_requested"):
        return {"kind": "review", "label": "your review comment", "comment": approval.get("comment") or "",
                "by": approval.get("by")}
    if (ds.get("requirements") or "") != (parent.get("requirements") or "") or \
            (ds.get("input_constraints") or {}) != (parent.get("input_constraints") or {}):
        return {"kind": "requirements", "label": "new requirements", "comment": "", "by": None}
    return {"kind": "rerun", "label": "the same requirements, planned again", "comment": "", "by": None}


def review(ds: dict[str, Any], parent: dict[str, Any] | None) -> dict[str, Any]:
    """The review read model of a decision set (against its parent version when there is one)."""
    now, before = _stated(ds.get("constraints")), _stated((parent or {}).get("constraints"))
    constraints = [{"key": k, "label": field_label(k), "value": value_text(now.get(k)),
                    "before": value_text(before.get(k)) if parent and before.get(k) != now.get(k) else None,
                    "changed": bool(parent) and before.get(k) != now.get(k)}
                   for k in dict.fromkeys([*now, *before])]
    cost = ds.get("cost") or {}
    prev_cost = (parent or {}).get("cost") or {}
    budget = now.get("budget_monthly_usd")
    monthly = cost.get("monthly_usd")
    now_lines, prev_lines = _lines(cost), _lines(prev_cost)
    lines = []
    for key, item in sorted(now_lines.items(), key=lambda kv: -kv[1]["usd"]):
        old = prev_lines.pop(key, None)
        lines.append({**item, "before_usd": old["usd"] if old else None,
                      "delta_usd": round(item["usd"] - (old["usd"] if old else 0.0), 2) if parent else None})
    for gone in prev_lines.values():  # lines the previous version had and this one does not
        lines.append({**gone, "qty": None, "unit_price_usd": None, "usd": 0.0, "before_usd": gone["usd"],
                      "delta_usd": -gone["usd"]})
    prev_rules = {r["id"]: r for r in ((parent or {}).get("policy") or {}).get("rules") or []}
    policy = [{"id": r["id"], "status": r["status"], "detail": r.get("detail", ""), "waived": r.get("waived", False),
               "before": prev_rules[r["id"]]["status"] if r["id"] in prev_rules else None,
               "changed": bool(parent) and (prev_rules.get(r["id"]) or {}).get("status") != r["status"]}
              for r in (ds.get("policy") or {}).get("rules") or []]
    text = _stated(extract(ds.get("requirements") or "").constraints.model_dump(mode="json"))
    overrides = [{"key": k, "label": field_label(k), "text": value_text(text[k]), "value": value_text(now.get(k))}
                 for k in text if k in now and now[k] != text[k]]
    return {
        "version": ds.get("version"), "against_version": (parent or {}).get("version"),
        "text_overrides": overrides,
        "changed_by": _why_changed(ds, parent) if parent else None,
        "constraints": constraints,
        "cost": {"monthly_usd": monthly, "low_usd": cost.get("low_usd"), "high_usd": cost.get("high_usd"),
                 "budget_usd": budget,
                 "budget_used_pct": round(100.0 * monthly / budget, 1) if budget and monthly is not None else None,
                 "delta_usd": cost.get("delta_vs_prev_usd"), "delta_pct": cost.get("delta_vs_prev_pct")},
        "cost_lines": lines,
        "policy": {"overall": (ds.get("policy") or {}).get("overall"), "rules": policy},
        "risks": ds.get("risks") or [],
    }
