"""The planner subgraph: one node, checkpointed, so a revision round can be inspected later."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from .nodes import planner
from .state import PlannerState


def build_graph(checkpointer: Any = None) -> Any:
    g = StateGraph(PlannerState)
    g.add_node("planner", planner)
    g.add_edge(START, "planner")
    g.add_edge("planner", END)
    return g.compile(checkpointer=checkpointer)
