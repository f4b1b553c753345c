"""The gate and code generation subgraph: gate_hitl (pause) → process_approval_feedback → codegen."""

from __future__ import annotations

from typing import Any

from amp_runtime.graphs import inline
from amp_runtime.providers import DeterministicProvider
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from . import nodes
from .state import CodegenOutput, CodegenState, FeedbackOutput


def gate_hitl(state: CodegenState) -> dict[str, Any]:
    """The human gate: a LangGraph interrupt that re-runs from its start on resume; nothing else here."""
    return {"decision": interrupt({"gate": "pre-codegen"})}


def build_graph(checkpointer: Any = None, llm: nodes.Llm | None = None) -> Any:
    """`llm` reads comments and writes seams (the rules and the templates' defaults when none is given)."""
    asker: nodes.Llm = llm or DeterministicProvider()

    async def codegen(state: CodegenState) -> CodegenOutput:
        return await nodes.codegen(state, asker)

    async def process_approval_feedback(state: CodegenState) -> FeedbackOutput:
        return await nodes.process_approval_feedback(state, asker)

    g = StateGraph(CodegenState)
    g.add_node("gate_hitl", inline(gate_hitl))
    g.add_node("process_approval_feedback", process_approval_feedback)
    g.add_node("codegen", codegen)
    g.add_edge(START, "gate_hitl")
    g.add_edge("gate_hitl", "process_approval_feedback")
    g.add_conditional_edges("process_approval_feedback", inline(nodes.route_after_feedback),
                            {"codegen": "codegen", "end": END})
    g.add_edge("codegen", END)
    return g.compile(checkpointer=checkpointer)
