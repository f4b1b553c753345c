"""The planner subgraph: one node, checkpointed, so a revision round can be inspected later."""

from __future__ import annotations

from typing import Any

from amp_runtime.providers import DeterministicProvider
from langgraph.graph import END, START, StateGraph

from .nodes import Llm, planner
from .state import PlannerOutput, PlannerState


def build_graph(checkpointer: Any = None, llm: Llm | None = None) -> Any:
    """`llm` answers the planner's questions (the rules when none is given)."""
    asker: Llm = llm or DeterministicProvider()

    async def plan_node(state: PlannerState) -> PlannerOutput:
        return await planner(state, asker)

    g = StateGraph(PlannerState)
    g.add_node("planner", plan_node)
    g.add_edge(START, "planner")
    g.add_edge("planner", END)
    return g.compile(checkpointer=checkpointer)
