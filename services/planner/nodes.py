"""The planner node: compose capability patterns into a plan, one Reason Card per choice."""

from __future__ import annotations

from typing import Any

from amp_contracts import ConstraintSchema, Plan, Risk

from .planning import compose_plan

AGENT = "planner"


def plan_cards(plan: Plan, trigger: str, feedback: list[Risk]) -> list[dict[str, Any]]:
    cards = [{
        "agent": AGENT, "node_name": "planner", "trigger": trigger,
        "summary": f"Plan round {plan.round}: {len(plan.components)} components on {plan.cloud} in "
                   f"{', '.join(plan.regions)}" + (f", revised for {len(feedback)} critic finding(s)" if feedback else ""),
        "inputs": {"artifacts": [c.pattern_id for c in plan.components]},
        "assumptions": list(plan.assumptions),
        "risks": [r.title for r in feedback],
        "details": {"open_questions": plan.open_questions, "catalog_version": plan.catalog_version},
        "confidence": 0.8,
    }]
    for c in plan.components:
        cards.append({
            "agent": AGENT, "node_name": "planner", "trigger": trigger,
            "summary": f"{c.capability}: {c.pattern_id}",
            "inputs": {"constraints_keys": list(c.answers), "artifacts": [f"capability:{c.capability}"]},
            "candidates": [x.model_dump(mode="json") for x in c.candidates],
            "choice": {"id": c.pattern_id, "justification": c.justification or f"best fit for {c.capability}"},
            "impacts": {"regions": c.regions, "deployment": c.deployment},
            "details": {"capability": c.capability, "sizing": c.sizing},
            "confidence": 0.75,
        })
    return cards


def planner(state: dict[str, Any]) -> dict[str, Any]:
    constraints = ConstraintSchema.model_validate(state["constraints"])
    feedback = [Risk.model_validate(r) for r in state.get("feedback") or []]
    plan = compose_plan(constraints, feedback=feedback or None, round=state.get("round") or 1)
    assumed = [f"{a['field']} = {a['value']}: {a['reason']}" for a in state.get("assumptions") or []]
    if assumed:
        plan = plan.model_copy(update={"assumptions": sorted(set(plan.assumptions) | set(assumed))})
    return {"plan": plan.model_dump(mode="json"),
            "cards": plan_cards(plan, state.get("trigger") or "constraints_updated", feedback)}


def warm_up() -> None:
    """Load every cloud's catalog before the first message, not during it."""
    for cloud in ("aws", "gcp", "azure"):
        compose_plan(ConstraintSchema(cloud=cloud, workload_types=["online", "batch", "streaming"]))
