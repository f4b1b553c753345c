"""policy_eval: deterministic rules over typed constraints, plan and cost."""

from __future__ import annotations

from amp_contracts import CardDraft, ConstraintSchema, CostEstimate
from amp_domain.assessment import sample_plan

from .engine import evaluate
from .state import PolicyOutput, PolicyState


def policy_eval(state: PolicyState) -> PolicyOutput:
    result = evaluate(state["constraints"], state["plan"], state["cost"], previous_cost=state.get("previous_cost"),
                      extra_rules=state.get("project_rules") or None, waivers=state.get("waivers") or None,
                      now=state.get("now"))
    failing = [r for r in result.rules if r.status != "pass"]
    card = CardDraft(
        agent="policy", node_name="policy_eval", trigger="constraints_updated",
        summary=f"Policy {result.overall}: " + (", ".join(f"{r.id} {r.status}" for r in failing)
                                                or f"all {len(result.rules)} rules pass"),
        policy_results={r.id: r.status for r in result.rules},
        risks=[f"{r.id}: {r.detail}" for r in failing],
        details={"requires_review": result.requires_review, "waived": [r.id for r in result.rules if r.waived]},
        links={"policy": "/reports/policy.json"},
        confidence=0.95,
    )
    return {"policy": result, "cards": [card]}


def warm_up() -> None:
    """Load the rules (and the catalog data they read) before the first message."""
    c = ConstraintSchema(cloud="aws", regions=["eu-west-1"], budget_monthly_usd=1000, compliance=["gdpr"])
    evaluate(c, sample_plan("aws"), CostEstimate(monthly_usd=500.0))
