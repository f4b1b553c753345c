"""The codegen service: the human gate, approval feedback, and repository generation.

amp.policy.evaluated ──▶ gate_hitl (pause; gate-waiting)                       [gate.py]
amp.gate.decided     ──▶ process_approval_feedback ──▶ codegen ──▶ amp.codegen.completed
                                                   ├─▶ (changes) next version ──▶ amp.intake.completed
                                                   └─▶ rejected: run-complete   [decisions.py]
amp.gate.expire      ──▶ reminder event, or the gate goes stale                [gate.py]
"""

from __future__ import annotations

from amp_contracts import Envelope, GateDecided, ReasonCard, Subjects
from amp_runtime.agent import Deps, Route, agent_app, bind
from amp_runtime.settings import Settings
from amp_runtime.step import StepResult
from faststream import FastStream

from .decisions import SERVICE, Codegen, after_gate
from .gate import on_expire, on_policy, sweep_gates
from .graph import build_graph
from .nodes import warm_up
from .state import Decision


async def on_decided(svc: Codegen, env: Envelope[GateDecided], key: str) -> StepResult:
    p = env.payload
    decision: Decision = {"status": p.status, "comment": p.comment, "by": p.by, "waivers": p.waivers}
    if p.status == "approved":  # the docs' design rationale is built from every card so far
        decision["prior_cards"] = [ReasonCard.model_validate(c)
                                   for c in await svc.db.reason_cards(env.decision_set_id, project_id=env.project_id)]
    return await after_gate(svc, env, key, p.interrupt_id, decision)


#: What each subject the codegen service consumes runs.
HANDLERS = {Subjects.POLICY_EVALUATED: on_policy, Subjects.GATE_DECIDED: on_decided, Subjects.GATE_EXPIRE: on_expire}


def routes(deps: Deps) -> list[Route]:
    warm_up()
    svc = Codegen(graph=build_graph(deps.checkpointer, deps.providers.llm), db=deps.reader, artifacts=deps.artifacts,
                  settings=deps.settings, packs_fingerprint=deps.providers.packs.fingerprint)
    return bind(HANDLERS, svc)


def create_app(settings: Settings) -> FastStream:
    return agent_app(SERVICE, settings, routes, background=sweep_gates)
