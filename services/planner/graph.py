"""The planner subgraph: one node, checkpointed, so a revision round can be inspected later."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from .nodes import planner
from .state import PlannerState


def build_graph(checkpointer: Any = None, orchestration: Any = None) -> Any:
    if orchestration is None:
        from amp_runtime.providers import DeterministicProvider

        orchestration = DeterministicProvider()

    async def plan_node(state: PlannerState) -> dict[str, Any]:
        return await planner(dict(state), orchestration)

    g = StateGraph(PlannerState)
    g.add_node("planner", plan_node)
    g.add_edge(START, "planner")
    g.add_edge("planner", END)
    return g.compile(checkpointer=checkpointer)
