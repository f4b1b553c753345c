"""The planner service: completed intakes and critic revisions in, proposed plans out.

amp.intake.completed ─┐
amp.plan.revise      ─┴─▶ planner subgraph ──▶ amp.plan.proposed
"""

from __future__ import annotations

from amp_contracts import Envelope, Plan, PlanProposed, Subjects
from amp_runtime.agent import Deps, Route, agent_app
from amp_runtime.cards import card_events, forward, stamp_cards
from amp_runtime.graphs import run_graph
from amp_runtime.settings import Settings
from amp_runtime.step import StepResult
from faststream import FastStream

from .graph import build_graph
from .nodes import warm_up

SERVICE = "planner"
NODES = {Subjects.INTAKE_COMPLETED: "planner", Subjects.PLAN_REVISE: "planner_revise"}


def routes(deps: Deps) -> list[Route]:
    warm_up()
    graph = build_graph(deps.checkpointer, deps.providers.orchestration)

    async def plan(env: Envelope, key: str, state: dict) -> StepResult:
        run = await run_graph(graph, env.decision_set_id, SERVICE, state)
        proposed = Plan.model_validate(run.values["plan"])
        cards = stamp_cards(run.values["cards"], key)
        msg = PlanProposed(constraints=env.payload.constraints, plan=proposed)
        return StepResult(events=card_events(env, cards), checkpoint_id=run.checkpoint_id,
                          messages=[(Subjects.PLAN_PROPOSED, forward(env, msg, key=key))],
                          ds_update={"plan": proposed.model_dump(mode="json"), "status": "planning",
                                     "stage": "critic_tech", "constraints": env.payload.constraints.model_dump(mode="json")})

    async def on_intake(env: Envelope, key: str) -> StepResult:
        p = env.payload
        return await plan(env, key, {"constraints": p.constraints.model_dump(mode="json"),
                                     "assumptions": [a.model_dump(mode="json") for a in p.assumptions],
                                     "feedback": [], "round": 1, "trigger": p.trigger})

    async def on_revise(env: Envelope, key: str) -> StepResult:
        p = env.payload
        return await plan(env, key, {"constraints": p.constraints.model_dump(mode="json"),
                                     "assumptions": [], "feedback": [r.model_dump(mode="json") for r in p.risks],
                                     "round": p.round, "trigger": "critic_feedback"})

    return [Route(Subjects.INTAKE_COMPLETED, NODES[Subjects.INTAKE_COMPLETED], on_intake),
            Route(Subjects.PLAN_REVISE, NODES[Subjects.PLAN_REVISE], on_revise)]


def create_app(settings: Settings) -> FastStream:
    return agent_app(SERVICE, settings, routes, NODES)
