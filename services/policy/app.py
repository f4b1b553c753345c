"""The policy service: costed critiques in, evaluated policy out (+ policy-update on the stream).

amp.critique.completed ──▶ policy_eval ──▶ amp.policy.evaluated
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amp_contracts import CostEstimate, CritiqueCompleted, Envelope, PolicyEvaluated, Subjects, Waiver
from amp_runtime.agent import Deps, Route, agent_app, bind
from amp_runtime.graphs import run_graph
from amp_runtime.reader import Reader
from amp_runtime.settings import Settings
from amp_runtime.step import Outcome, StepResult
from faststream import FastStream

from .graph import build_graph
from .nodes import warm_up

SERVICE = "policy"


@dataclass
class Policy:
    """What the policy handler needs."""

    graph: Any
    db: Reader
    packs_fingerprint: str


async def on_critique(svc: Policy, env: Envelope[CritiqueCompleted], key: str) -> StepResult:
    p = env.payload
    project = await svc.db.project(env.project_id)
    packs = project.get("policies") or {}
    packs = packs if isinstance(packs, dict) else {"rules": packs}
    previous = await svc.db.parent_cost(env.decision_set_id)
    run = await run_graph(svc.graph, env.decision_set_id, SERVICE, {
        "constraints": p.constraints, "plan": p.plan, "cost": p.cost,
        "previous_cost": CostEstimate.model_validate(previous) if previous else None,
        "project_rules": packs.get("rules") or [],
        "waivers": [Waiver.model_validate(w) for w in packs.get("waivers") or []], "now": env.ts}, step=key)
    policy = run.values["policy"]
    return (Outcome(env, key, svc.packs_fingerprint).cards(run.values["cards"])
            .event("policy-update", "policy_eval", policy)
            .send(Subjects.POLICY_EVALUATED, PolicyEvaluated(constraints=p.constraints, plan=p.plan, risks=p.risks,
                                                              cost=p.cost, policy=policy))
            .update(policy=policy, stage="gate_hitl")
            .result(run.checkpoint_id))


#: What each subject the policy service consumes runs.
HANDLERS = {Subjects.CRITIQUE_COMPLETED: on_critique}


def routes(deps: Deps) -> list[Route]:
    warm_up()
    svc = Policy(graph=build_graph(deps.checkpointer), db=deps.reader,
                 packs_fingerprint=deps.providers.packs.fingerprint)
    return bind(HANDLERS, svc)


def create_app(settings: Settings) -> FastStream:
    return agent_app(SERVICE, settings, routes)
