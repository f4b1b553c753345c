"""critic_tech then critic_cost: pure functions of typed state."""

from __future__ import annotations

from typing import Any, Protocol

from amp_contracts import CardDraft, ConstraintSchema
from amp_domain.assessment import sample_plan
from amp_runtime.calls import current_call, provenance
from amp_runtime.providers import Ask, CallContext, Result

from .asks import critique_plan
from .cost import estimate
from .state import CostOutput, CriticsState, TechOutput
from .tech import critique

MAX_ROUNDS = 3
_SEVERITY_CONFIDENCE = {"low": 0.85, "medium": 0.7, "high": 0.5, "critical": 0.3}


class Llm(Protocol):
    async def ask(self, q: Ask[Any], ctx: CallContext | None = None) -> Result[Any]: ...


async def critic_tech(state: CriticsState, llm: Llm) -> TechOutput:
    plan = state["plan"]
    res = await llm.ask(critique_plan(plan, state["constraints"]), current_call())
    risks = res.value
    replan = any(r.replan for r in risks) and plan.round < (state.get("max_rounds") or MAX_ROUNDS)
    worst = min((_SEVERITY_CONFIDENCE[r.severity] for r in risks), default=0.9)
    card = CardDraft(
        agent="critic.tech", node_name="critic_tech", trigger="constraints_updated",
        summary=(f"{len(risks)} risk(s)" if risks else "No technical risks found")
                + ("; sending the plan back to the planner" if replan else ""),
        inputs={"artifacts": [c.pattern_id for c in plan.components]},
        risks=[f"[{r.severity}] {r.title}: {r.detail} Probe: {r.probe}" for r in risks],
        details={"risks": [r.model_dump(mode="json") for r in risks], "round": plan.round, "replan": replan},
        confidence=worst,
        **provenance(res),
    )
    return {"risks": risks, "replan": replan, "cards": [card]}


def route_after_tech(state: CriticsState) -> str:
    return "end" if state.get("replan") else "critic_cost"


def critic_cost(state: CriticsState) -> CostOutput:
    plan = state["plan"]
    cost = estimate(plan, state["constraints"], state.get("previous_cost"))
    top = sorted(cost.breakdown, key=lambda b: -b.usd)[:3]
    card = CardDraft(
        agent="critic.cost", node_name="critic_cost", trigger="constraints_updated",
        summary=f"Estimated ${cost.monthly_usd:,.2f}/month"
                + (f" (range ${cost.low_usd:,.0f}–${cost.high_usd:,.0f})" if cost.low_usd is not None else "")
                + (f", {cost.delta_vs_prev_usd:+,.2f} vs previous" if cost.delta_vs_prev_usd is not None else ""),
        inputs={"artifacts": [c.pattern_id for c in plan.components]},
        impacts={"monthly_usd": cost.monthly_usd, "delta_vs_prev_usd": cost.delta_vs_prev_usd},
        assumptions=list(cost.assumptions),
        details={"largest_items": [b.model_dump(mode="json") for b in top], "price_book": cost.price_book},
        links={"cost": "/reports/cost.json"},
        confidence=0.7,
    )
    return {"cost": cost, "cards": [card]}


def warm_up() -> None:
    """Load the catalog and the price book before the first message, not during it."""
    for cloud in ("aws", "gcp", "azure"):
        plan = sample_plan(cloud)
        c = ConstraintSchema(cloud=cloud, workload_types=["online", "batch", "streaming"])
        critique(plan, c)
        estimate(plan, c)
