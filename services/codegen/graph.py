"""The gate and code generation subgraph: gate_hitl (pause) → process_approval_feedback → codegen."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from . import nodes
from .state import CodegenState


def gate_hitl(state: CodegenState) -> dict[str, Any]:
    """The human gate: a LangGraph interrupt that re-runs from its start on resume; nothing else here."""
    return {"decision": interrupt({"gate": "pre-codegen"})}


def build_graph(checkpointer: Any = None, orchestration: Any = None, codegen_provider: Any = None) -> Any:
    from amp_runtime.providers import DeterministicProvider

    orchestration = orchestration or DeterministicProvider()
    codegen_provider = codegen_provider or DeterministicProvider()

    async def codegen(state: CodegenState) -> dict[str, Any]:
        return await nodes.codegen(dict(state), codegen_provider)

    async def process_approval_feedback(state: CodegenState) -> dict[str, Any]:
        return await nodes.process_approval_feedback(dict(state), orchestration)

    g = StateGraph(CodegenState)
    g.add_node("gate_hitl", gate_hitl)
    g.add_node("process_approval_feedback", process_approval_feedback)
    g.add_node("codegen", codegen)
    g.add_edge(START, "gate_hitl")
    g.add_edge("gate_hitl", "process_approval_feedback")
    g.add_conditional_edges("process_approval_feedback", nodes.route_after_feedback,
                            {"codegen": "codegen", "end": END})
    g.add_edge("codegen", END)
    return g.compile(checkpointer=checkpointer)
