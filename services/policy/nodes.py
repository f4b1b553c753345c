"""policy_eval (seed §21.1 step 7, §21.5): deterministic rules over typed constraints, plan and cost."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from amp_contracts import ConstraintSchema, CostEstimate, Plan, Waiver
from amp_domain.assessment import sample_plan

from .engine import evaluate


def policy_eval(state: dict[str, Any]) -> dict[str, Any]:
    prev = state.get("previous_cost")
    result = evaluate(ConstraintSchema.model_validate(state["constraints"]), Plan.model_validate(state["plan"]),
                      CostEstimate.model_validate(state["cost"]),
                      previous_cost=CostEstimate.model_validate(prev) if prev else None,
                      extra_rules=state.get("project_rules") or None,
                      waivers=[Waiver.model_validate(w) for w in state.get("waivers") or []] or None,
                      now=datetime.fromisoformat(state["now"]) if state.get("now") else None)
    failing = [r for r in result.rules if r.status != "pass"]
    card = {
        "agent": "policy", "node_name": "policy_eval", "trigger": "constraints_updated",
        "summary": f"Policy {result.overall}: " + (", ".join(f"{r.id} {r.status}" for r in failing)
                                                   or f"all {len(result.rules)} rules pass"),
        "policy_results": {r.id: r.status for r in result.rules},
        "risks": [f"{r.id}: {r.detail}" for r in failing],
        "details": {"requires_review": result.requires_review,
                    "waived": [r.id for r in result.rules if r.waived]},
        "links": {"policy": "/reports/policy.json"},
        "confidence": 0.95,
    }
    return {"policy": result.model_dump(mode="json"), "cards": [card]}


def warm_up() -> None:
    """Load the rules (and the planner's data they read) before the first message."""
    c = ConstraintSchema(cloud="aws", regions=["eu-west-1"], budget_monthly_usd=1000, compliance=["gdpr"])
    evaluate(c, sample_plan("aws"), CostEstimate(monthly_usd=500.0))
