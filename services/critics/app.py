"""The critics service: proposed plans in; a revision request or a costed critique out.

amp.plan.proposed ──▶ critic_tech ──(replan, bounded rounds)──▶ amp.plan.revise
                                  └─▶ critic_cost ──▶ amp.critique.completed (+ cost-update)
"""

from __future__ import annotations

from amp_contracts import CostEstimate, CritiqueCompleted, Envelope, PlanRevise, Risk, Subjects
from amp_runtime import store
from amp_runtime.agent import Deps, Route, agent_app
from amp_runtime.cards import card_events, event, forward, stamp_cards
from amp_runtime.graphs import run_graph
from amp_runtime.settings import Settings
from amp_runtime.step import StepResult
from faststream import FastStream

from .graph import build_graph
from .nodes import warm_up

SERVICE = "critics"
NODES = {Subjects.PLAN_PROPOSED: "critic_tech"}


def routes(deps: Deps) -> list[Route]:
    warm_up()
    graph = build_graph(deps.checkpointer, deps.providers.orchestration)

    async def on_plan(env: Envelope, key: str) -> StepResult:
        p = env.payload
        run = await run_graph(graph, env.decision_set_id, SERVICE, {
            "constraints": p.constraints.model_dump(mode="json"), "plan": p.plan.model_dump(mode="json"),
            "previous_cost": await store.parent_cost(deps.pool, env.decision_set_id), "cards": []})
        v = run.values
        risks = [Risk.model_validate(r) for r in v["risks"]]
        events = card_events(env, stamp_cards(v["cards"], key))
        if v.get("replan"):
            msg = PlanRevise(constraints=p.constraints, plan=p.plan, risks=[r for r in risks if r.replan],
                             round=p.plan.round + 1)
            return StepResult(events=events, checkpoint_id=run.checkpoint_id,
                              messages=[(Subjects.PLAN_REVISE, forward(env, msg, key=key))],
                              ds_update={"risks": [r.model_dump(mode="json") for r in risks], "stage": "planner"})
        cost = CostEstimate.model_validate(v["cost"])
        events.append(event(env, "cost-update", "critic_cost", cost))
        msg = CritiqueCompleted(constraints=p.constraints, plan=p.plan, risks=risks, cost=cost)
        return StepResult(events=events, checkpoint_id=run.checkpoint_id, cost=cost.model_dump(mode="json"),
                          messages=[(Subjects.CRITIQUE_COMPLETED, forward(env, msg, key=key))],
                          ds_update={"risks": [r.model_dump(mode="json") for r in risks],
                                     "cost": cost.model_dump(mode="json"), "stage": "policy_eval"})

    return [Route(Subjects.PLAN_PROPOSED, NODES[Subjects.PLAN_PROPOSED], on_plan)]


def create_app(settings: Settings) -> FastStream:
    return agent_app(SERVICE, settings, routes, NODES)
