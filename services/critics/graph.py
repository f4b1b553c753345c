"""The critics subgraph: critic_tech → (send back to the planner | critic_cost)."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from . import nodes
from .state import CriticsState


def build_graph(checkpointer: Any = None, orchestration: Any = None) -> Any:
    if orchestration is None:
        from amp_runtime.providers import DeterministicProvider

        orchestration = DeterministicProvider()

    async def critic_tech(state: CriticsState) -> dict[str, Any]:
        return await nodes.critic_tech(dict(state), orchestration)

    g = StateGraph(CriticsState)
    g.add_node("critic_tech", critic_tech)
    g.add_node("critic_cost", nodes.critic_cost)
    g.add_edge(START, "critic_tech")
    g.add_conditional_edges("critic_tech", nodes.route_after_tech, {"end": END, "critic_cost": "critic_cost"})
    g.add_edge("critic_cost", END)
    return g.compile(checkpointer=checkpointer)
