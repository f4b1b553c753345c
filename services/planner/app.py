"""The planner service: completed intakes and critic revisions in, proposed plans out.

amp.intake.completed ─┐
amp.plan.revise      ─┴─▶ planner subgraph ──▶ amp.plan.proposed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amp_contracts import Envelope, IntakeCompleted, PlanProposed, PlanRevise, Subjects
from amp_runtime.agent import Deps, Route, agent_app, bind
from amp_runtime.graphs import run_graph
from amp_runtime.settings import Settings
from amp_runtime.step import Outcome, StepResult
from faststream import FastStream

from .graph import build_graph
from .nodes import warm_up
from .state import PlannerState

SERVICE = "planner"


@dataclass
class Planner:
    """What the planner's handlers need."""

    graph: Any
    packs_fingerprint: str


async def plan(svc: Planner, env: Envelope, key: str, state: PlannerState) -> StepResult:
    run = await run_graph(svc.graph, env.decision_set_id, SERVICE, dict(state), step=key)
    proposed = run.values["plan"]
    return (Outcome(env, key, svc.packs_fingerprint).cards(run.values["cards"])
            .send(Subjects.PLAN_PROPOSED, PlanProposed(constraints=state["constraints"], plan=proposed))
            .update(plan=proposed, status="planning", stage="critic_tech", constraints=state["constraints"])
            .result(run.checkpoint_id))


async def on_intake(svc: Planner, env: Envelope[IntakeCompleted], key: str) -> StepResult:
    p = env.payload
    return await plan(svc, env, key, {"constraints": p.constraints, "assumptions": p.assumptions, "feedback": [],
                                      "round": 1, "trigger": p.trigger})


async def on_revise(svc: Planner, env: Envelope[PlanRevise], key: str) -> StepResult:
    p = env.payload
    return await plan(svc, env, key, {"constraints": p.constraints, "assumptions": [], "feedback": p.risks,
                                      "round": p.round, "trigger": "critic_feedback"})


#: What each subject the planner consumes runs.
HANDLERS = {Subjects.INTAKE_COMPLETED: on_intake, Subjects.PLAN_REVISE: on_revise}


def routes(deps: Deps) -> list[Route]:
    warm_up()
    svc = Planner(graph=build_graph(deps.checkpointer, deps.providers.llm),
                  packs_fingerprint=deps.providers.packs.fingerprint)
    return bind(HANDLERS, svc)


def create_app(settings: Settings) -> FastStream:
    return agent_app(SERVICE, settings, routes)
