"""The critics service: proposed plans in; a revision request or a costed critique out.

amp.plan.proposed ──▶ critic_tech ──(replan, bounded rounds)──▶ amp.plan.revise
                                  └─▶ critic_cost ──▶ amp.critique.completed (+ cost-update)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amp_contracts import CostEstimate, CritiqueCompleted, Envelope, PlanProposed, PlanRevise, Subjects
from amp_runtime.agent import Deps, Route, agent_app, bind
from amp_runtime.graphs import run_graph
from amp_runtime.reader import Reader
from amp_runtime.settings import Settings
from amp_runtime.step import Outcome, StepResult
from faststream import FastStream

from .graph import build_graph
from .nodes import warm_up

SERVICE = "critics"


@dataclass
class Critics:
    """What the critics' handler needs."""

    graph: Any
    db: Reader
    packs_fingerprint: str


async def on_plan(svc: Critics, env: Envelope[PlanProposed], key: str) -> StepResult:
    p = env.payload
    previous = await svc.db.parent_cost(env.decision_set_id)
    run = await run_graph(svc.graph, env.decision_set_id, SERVICE, {
        "constraints": p.constraints, "plan": p.plan,
        "previous_cost": CostEstimate.model_validate(previous) if previous else None}, step=key)
    v = run.values
    risks = v["risks"]
    out = Outcome(env, key, svc.packs_fingerprint).cards(v["cards"])
    if v.get("replan"):
        return (out.send(Subjects.PLAN_REVISE, PlanRevise(constraints=p.constraints, plan=p.plan,
                                                          risks=[r for r in risks if r.replan], round=p.plan.round + 1))
                .update(risks=[r.model_dump(mode="json") for r in risks], stage="planner")
                .result(run.checkpoint_id))
    cost: CostEstimate = v["cost"]
    return (out.event("cost-update", "critic_cost", cost)
            .send(Subjects.CRITIQUE_COMPLETED, CritiqueCompleted(constraints=p.constraints, plan=p.plan, risks=risks,
                                                                  cost=cost))
            .update(risks=[r.model_dump(mode="json") for r in risks], cost=cost, stage="policy_eval")
            .result(run.checkpoint_id, cost=cost.model_dump(mode="json")))


#: What each subject the critics consume runs.
HANDLERS = {Subjects.PLAN_PROPOSED: on_plan}


def routes(deps: Deps) -> list[Route]:
    warm_up()
    svc = Critics(graph=build_graph(deps.checkpointer, deps.providers.llm), db=deps.reader,
                  packs_fingerprint=deps.providers.packs.fingerprint)
    return bind(HANDLERS, svc)


def create_app(settings: Settings) -> FastStream:
    return agent_app(SERVICE, settings, routes)
