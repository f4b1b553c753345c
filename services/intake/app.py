"""The intake service: consumes intake requests and answers; publishes completed intakes.

amp.intake.requested ─┐                         ┌─▶ amp.intake.completed (coverage passed)
amp.intake.answered  ─┴─▶ intake subgraph ──────┴─▶ gate-waiting {gate: intake, questions} (paused)
"""

from __future__ import annotations

from amp_contracts import (
    Assumption,
    ConstraintSchema,
    Coverage,
    Envelope,
    GateWaiting,
    IntakeCompleted,
    Question,
    Subjects,
)
from amp_runtime.agent import Deps, Route, agent_app
from amp_runtime.cards import card_events, event, forward, stamp_cards
from amp_runtime.graphs import GraphRun, read_graph, resume_graph, run_graph
from amp_runtime.providers import packs_fingerprint
from amp_runtime.settings import Settings
from amp_runtime.step import StepResult
from faststream import FastStream

from .graph import build_graph
from .nodes import warm_up

SERVICE = "intake"
NODES = {Subjects.INTAKE_REQUESTED: "intake_extract", Subjects.INTAKE_ANSWERED: "apply_answers"}


def routes(deps: Deps) -> list[Route]:
    warm_up()
    graph = build_graph(deps.checkpointer, deps.providers.orchestration)

    async def on_requested(env: Envelope, key: str) -> StepResult:
        p = env.payload
        run = await run_graph(graph, env.decision_set_id, SERVICE,
                              {"text": p.text, "input_constraints": p.constraints, "cards": []})
        return outcome(env, key, run, seen_cards=0, trigger="constraints_updated")

    async def on_answered(env: Envelope, key: str) -> StepResult:
        before = len((await read_graph(graph, env.decision_set_id, SERVICE)).values.get("cards") or [])
        run = await resume_graph(graph, env.decision_set_id, SERVICE, env.payload.interrupt_id,
                                 {"answers": env.payload.answers, "text": env.payload.text})
        return outcome(env, key, run, seen_cards=before, trigger="user_answer")

    return [Route(Subjects.INTAKE_REQUESTED, NODES[Subjects.INTAKE_REQUESTED], on_requested),
            Route(Subjects.INTAKE_ANSWERED, NODES[Subjects.INTAKE_ANSWERED], on_answered)]


def outcome(env: Envelope, key: str, run: GraphRun, seen_cards: int, trigger: str) -> StepResult:
    """Paused → ask on the stream and wait; complete → hand the constraints to the planner."""
    values = run.values
    cards = stamp_cards(values.get("cards", [])[seen_cards:], key)
    constraints = ConstraintSchema.model_validate(values["constraints"])
    coverage = Coverage.model_validate(values["coverage"])
    common = {"constraints": constraints.model_dump(mode="json"), "coverage": coverage.model_dump(mode="json"),
              "prompt_pack_hash": packs_fingerprint()}
    events = card_events(env, cards)
    events.append(event(env, "intake-update", "coverage_check", {
        **common, "spans": values.get("spans") or [], "question_count": len(values.get("questions") or [])}))
    if run.interrupt_id is not None:
        gate = GateWaiting(decision_set_id=env.decision_set_id, gate="intake", interrupt_id=run.interrupt_id,
                           questions=[Question.model_validate(q) for q in values.get("questions") or []])
        events.append(event(env, "gate-waiting", "adaptive_questions", gate))
        return StepResult(events=events, checkpoint_id=run.checkpoint_id,
                          ds_update={**common, "status": "waiting_intake", "stage": "adaptive_questions",
                                     "gate": gate.model_dump(mode="json")})
    made = [Assumption.model_validate(a) for a in values.get("assumptions") or []]
    done = IntakeCompleted(constraints=constraints, coverage=coverage, assumptions=made, trigger=trigger)
    return StepResult(events=events, checkpoint_id=run.checkpoint_id,
                      messages=[(Subjects.INTAKE_COMPLETED, forward(env, done, key=key))],
                      ds_update={**common, "assumptions": [a.model_dump(mode="json") for a in made],
                                 "status": "planning", "stage": "planner", "gate": None})


def create_app(settings: Settings) -> FastStream:
    return agent_app(SERVICE, settings, routes, NODES)


