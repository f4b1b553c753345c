"""The policy subgraph: one deterministic node."""

from __future__ import annotations

from typing import Any

from amp_runtime.graphs import inline
from langgraph.graph import END, START, StateGraph

from .nodes import policy_eval
from .state import PolicyState


def build_graph(checkpointer: Any = None) -> Any:
    g = StateGraph(PolicyState)
    g.add_node("policy_eval", inline(policy_eval))
    g.add_edge(START, "policy_eval")
    g.add_edge("policy_eval", END)
    return g.compile(checkpointer=checkpointer)
