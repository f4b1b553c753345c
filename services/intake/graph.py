"""The intake subgraph: extract → coverage → (questions → pause for answers → apply)* → finalize."""

from __future__ import annotations

from typing import Any

from amp_runtime.graphs import inline
from amp_runtime.providers import DeterministicProvider
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from . import nodes
from .state import Asked, Extracted, IntakeState


def gate_user_input(state: IntakeState) -> dict[str, Any]:
    """A real LangGraph interrupt; it re-runs from its start on resume, so it does nothing else."""
    questions = [q.model_dump(mode="json") for q in state.get("questions") or []]
    answer = interrupt({"gate": "intake", "questions": questions, "round": state.get("round")})
    return {"answer": answer}


def build_graph(checkpointer: Any = None, llm: nodes.Llm | None = None) -> Any:
    """`llm` answers the intake's questions (the rules when none is given, a model when configured)."""
    asker: nodes.Llm = llm or DeterministicProvider()

    async def intake_extract(state: IntakeState) -> Extracted:
        return await nodes.intake_extract(state, asker)

    async def adaptive_questions(state: IntakeState) -> Asked:
        return await nodes.adaptive_questions(state, asker)

    g = StateGraph(IntakeState)
    g.add_node("intake_extract", intake_extract)
    g.add_node("coverage_check", inline(nodes.coverage_check))
    g.add_node("adaptive_questions", adaptive_questions)
    g.add_node("gate_user_input", inline(gate_user_input))
    g.add_node("apply_answers", inline(nodes.apply_user_answers))
    g.add_node("finalize", inline(nodes.finalize))
    g.add_edge(START, "intake_extract")
    g.add_edge("intake_extract", "coverage_check")
    g.add_conditional_edges("coverage_check", inline(nodes.needs_questions), ["finalize", "adaptive_questions"])
    g.add_conditional_edges("adaptive_questions", inline(nodes.route_after_questions), ["gate_user_input", "finalize"])
    g.add_edge("gate_user_input", "apply_answers")
    g.add_edge("apply_answers", "coverage_check")
    g.add_edge("finalize", END)
    return g.compile(checkpointer=checkpointer)
