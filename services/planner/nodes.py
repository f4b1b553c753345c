"""The planner node: compose capability patterns into a plan, one Reason Card per choice."""

from __future__ import annotations

from typing import Any, Protocol

from amp_contracts import CardDraft, ConstraintSchema, Plan, Risk
from amp_domain.labels import capability_label, pattern_label
from amp_runtime.calls import current_call, provenance
from amp_runtime.providers import Ask, CallContext, Result

from .asks import choose_pattern
from .planning import compose_plan
from .state import PlannerOutput, PlannerState


class Llm(Protocol):
    async def ask(self, q: Ask[Any], ctx: CallContext | None = None) -> Result[Any]: ...

AGENT = "planner"


def plan_cards(plan: Plan, trigger: str, feedback: list[Risk],
               provenance_by_capability: dict[str, dict[str, Any]] | None = None) -> list[CardDraft]:
    cards = [CardDraft(
        agent=AGENT, node_name="planner", trigger=trigger,
        summary=f"Plan round {plan.round}: {len(plan.components)} components on {plan.cloud.upper()} in "
                f"{', '.join(plan.regions)}" + (f", revised for {len(feedback)} critic finding(s)" if feedback else ""),
        inputs={"artifacts": [c.pattern_id for c in plan.components]},
        assumptions=list(plan.assumptions),
        risks=[r.title for r in feedback],
        details={"open_questions": plan.open_questions, "catalog_version": plan.catalog_version},
        confidence=0.8,
    )]
    for c in plan.components:
        cards.append(CardDraft(
            agent=AGENT, node_name="planner", trigger=trigger,
            summary=f"{capability_label(c.capability)}: {c.name or pattern_label(c.pattern_id)}",
            inputs={"constraints_keys": list(c.answers), "artifacts": [f"capability:{c.capability}"]},
            candidates=c.candidates,
            choice={"id": c.pattern_id, "justification": c.justification or f"best fit for {c.capability}"},
            impacts={"regions": c.regions, "deployment": c.deployment},
            details={"capability": c.capability, "sizing": c.sizing},
            confidence=0.75,
            **(provenance_by_capability or {}).get(c.capability, {}),
        ))
    return cards


def open_candidates(component: Any) -> list[str]:
    """The catalog patterns still in the running for a capability, the rules' winner first."""
    others = [x.id for x in component.candidates if x.eligible and x.id != component.pattern_id]
    return [component.pattern_id, *others]


async def choose_within_catalog(plan: Plan, constraints: ConstraintSchema, feedback: list[Risk],
                                llm: Llm) -> tuple[Plan, dict[str, dict[str, Any]]]:
    """Let the model (or the rules) pick among the catalog's open candidates of each capability.

    The provider can only return one of the ids it is given (checked there); a different pick
    re-plans with the rules' winner excluded, through the same feedback path the critic uses.
    """
    chosen: dict[str, tuple[str, str]] = {}
    shown: dict[str, dict[str, Any]] = {}
    for c in plan.components:
        candidates = open_candidates(c)
        if len(candidates) < 2:
            continue
        res = await llm.ask(choose_pattern(c.capability, candidates, constraints), current_call())
        shown[c.capability] = provenance(res)
        chosen[c.capability] = (res.value.pattern_id, res.value.justification)
    excluded = list(feedback)
    for _ in range(8):
        mismatched = [c for c in plan.components if c.capability in chosen and chosen[c.capability][0] != c.pattern_id]
        if not mismatched:
            break
        excluded += [Risk(id=f"choice:{c.capability}", severity="low", title="another candidate was preferred",
                          detail=chosen[c.capability][1], component=c.pattern_id, replan=True) for c in mismatched]
        plan = compose_plan(constraints, feedback=excluded, round=plan.round)
    updated = []
    for c in plan.components:
        pick = chosen.get(c.capability)
        if pick and pick[0] == c.pattern_id and shown[c.capability]["provider"]["provider"] != "deterministic":
            c = c.model_copy(update={"justification": pick[1]})
        updated.append(c)
    return plan.model_copy(update={"components": updated}), shown


async def planner(state: PlannerState, llm: Llm) -> PlannerOutput:
    constraints = state["constraints"]
    feedback = list(state.get("feedback") or [])
    plan = compose_plan(constraints, feedback=feedback or None, round=state.get("round") or 1)
    plan, shown = await choose_within_catalog(plan, constraints, feedback, llm)
    assumed = [f"{a.field} = {a.value}: {a.reason}" for a in state.get("assumptions") or []]
    if assumed:
        plan = plan.model_copy(update={"assumptions": sorted(set(plan.assumptions) | set(assumed))})
    return {"plan": plan, "cards": plan_cards(plan, state.get("trigger") or "constraints_updated", feedback, shown)}


def warm_up() -> None:
    """Load every cloud's catalog before the first message, not during it."""
    for cloud in ("aws", "gcp", "azure"):
        compose_plan(ConstraintSchema(cloud=cloud, workload_types=["online", "batch", "streaming"]))
