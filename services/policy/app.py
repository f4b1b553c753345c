"""The policy service: costed critiques in, evaluated policy out (+ policy-update on the stream).

amp.critique.completed ──▶ policy_eval ──▶ amp.policy.evaluated
"""

from __future__ import annotations

from amp_contracts import Envelope, PolicyEvaluated, PolicyResults, Subjects
from amp_runtime import store
from amp_runtime.agent import Deps, Route, agent_app
from amp_runtime.cards import card_events, event, forward, stamp_cards
from amp_runtime.graphs import run_graph
from amp_runtime.settings import Settings
from amp_runtime.step import StepResult
from faststream import FastStream

from .graph import build_graph
from .nodes import warm_up

SERVICE = "policy"
NODES = {Subjects.CRITIQUE_COMPLETED: "policy_eval"}


def routes(deps: Deps) -> list[Route]:
    warm_up()
    graph = build_graph(deps.checkpointer)

    async def on_critique(env: Envelope, key: str) -> StepResult:
        p = env.payload
        project = await store.get_project(deps.pool, env.project_id)
        packs = project.get("policies") or {}
        packs = packs if isinstance(packs, dict) else {"rules": packs}
        run = await run_graph(graph, env.decision_set_id, SERVICE, {
            "constraints": p.constraints.model_dump(mode="json"), "plan": p.plan.model_dump(mode="json"),
            "cost": p.cost.model_dump(mode="json"),
            "previous_cost": await store.parent_cost(deps.pool, env.decision_set_id),
            "project_rules": packs.get("rules") or [], "waivers": packs.get("waivers") or [],
            "now": env.ts.isoformat(), "cards": []})
        policy = PolicyResults.model_validate(run.values["policy"])
        events = card_events(env, stamp_cards(run.values["cards"], key))
        events.append(event(env, "policy-update", "policy_eval", policy))
        msg = PolicyEvaluated(constraints=p.constraints, plan=p.plan, risks=p.risks, cost=p.cost, policy=policy)
        return StepResult(events=events, checkpoint_id=run.checkpoint_id,
                          messages=[(Subjects.POLICY_EVALUATED, forward(env, msg, key=key))],
                          ds_update={"policy": policy.model_dump(mode="json"), "stage": "gate_hitl"})

    return [Route(Subjects.CRITIQUE_COMPLETED, NODES[Subjects.CRITIQUE_COMPLETED], on_critique)]


def create_app(settings: Settings) -> FastStream:
    return agent_app(SERVICE, settings, routes, NODES)
