"""The intake service: consumes intake requests and answers; publishes completed intakes.

amp.intake.requested ─┐                         ┌─▶ amp.intake.completed (coverage passed)
amp.intake.answered  ─┴─▶ intake subgraph ──────┴─▶ gate-waiting {gate: intake, questions} (paused)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from amp_contracts import (
    ConstraintSchema,
    Envelope,
    GateWaiting,
    IntakeAnswered,
    IntakeCompleted,
    IntakeRequested,
    Subjects,
)
from amp_runtime.agent import Deps, Route, agent_app, bind
from amp_runtime.graphs import GraphRun, resume_graph, run_graph
from amp_runtime.providers import accounting
from amp_runtime.settings import Settings
from amp_runtime.step import Outcome, StepResult
from faststream import FastStream

from .graph import build_graph
from .nodes import warm_up

SERVICE = "intake"


#: Before a version's first model call: estimate the run's spend and pause if the budget cannot pay for it.
Preflight = Callable[[Envelope[IntakeRequested]], Awaitable[object]]


@dataclass
class Intake:
    """What the intake's handlers need."""

    graph: Any
    packs_fingerprint: str
    preflight: Preflight | None = None


async def on_requested(svc: Intake, env: Envelope[IntakeRequested], key: str) -> StepResult:
    p = env.payload
    if svc.preflight is not None:
        await svc.preflight(env)  # raises BudgetExceeded: the run waits at the budget gate, nothing spent
    run = await run_graph(svc.graph, env.decision_set_id, SERVICE, {
        "text": p.text, "input_constraints": ConstraintSchema.model_validate(p.constraints)}, step=key)
    return outcome(svc, env, key, run, trigger="constraints_updated")


async def on_answered(svc: Intake, env: Envelope[IntakeAnswered], key: str) -> StepResult:
    run = await resume_graph(svc.graph, env.decision_set_id, SERVICE, env.payload.interrupt_id,
                             {"answers": env.payload.answers, "text": env.payload.text}, step=key)
    return outcome(svc, env, key, run, trigger="user_answer")


def outcome(svc: Intake, env: Envelope, key: str, run: GraphRun, trigger: str) -> StepResult:
    """Paused → ask on the stream and wait; complete → hand the constraints to the planner."""
    v = run.values
    constraints, coverage = v["constraints"], v["coverage"]
    common = {"constraints": constraints, "coverage": coverage, "prompt_pack_hash": svc.packs_fingerprint}
    out = Outcome(env, key, svc.packs_fingerprint).cards(v.get("cards") or [])  # this step's own
    out.event("intake-update", "coverage_check", {
        "constraints": constraints.model_dump(mode="json"), "coverage": coverage.model_dump(mode="json"),
        "prompt_pack_hash": svc.packs_fingerprint, "spans": [s.model_dump(mode="json") for s in v.get("spans") or []],
        "question_count": len(v.get("questions") or [])})
    if run.interrupt_id is not None:
        gate = GateWaiting(decision_set_id=env.decision_set_id, gate="intake", interrupt_id=run.interrupt_id,
                           questions=list(v.get("questions") or []))
        return (out.event("gate-waiting", "adaptive_questions", gate)
                .update(**common, status="waiting_intake", stage="adaptive_questions", gate=gate)
                .result(run.checkpoint_id))
    made = list(v.get("assumptions") or [])
    done = IntakeCompleted(constraints=constraints, coverage=coverage, assumptions=made, trigger=trigger)
    return (out.send(Subjects.INTAKE_COMPLETED, done)
            .update(**common, assumptions=[a.model_dump(mode="json") for a in made], status="planning",
                    stage="planner", gate=None)
            .result(run.checkpoint_id))


#: What each subject the intake consumes runs.
HANDLERS = {Subjects.INTAKE_REQUESTED: on_requested, Subjects.INTAKE_ANSWERED: on_answered}


def routes(deps: Deps) -> list[Route]:
    warm_up()
    providers = deps.providers

    async def preflight(env: Envelope[IntakeRequested]) -> object:
        return await accounting.preflight(deps.pool, providers.config, providers.packs, env.project_id,
                                          env.decision_set_id, len(env.payload.text))

    svc = Intake(graph=build_graph(deps.checkpointer, providers.llm), packs_fingerprint=providers.packs.fingerprint,
                 preflight=preflight)
    return bind(HANDLERS, svc)


def create_app(settings: Settings) -> FastStream:
    return agent_app(SERVICE, settings, routes)
