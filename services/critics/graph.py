"""The critics subgraph: critic_tech → (send back to the planner | critic_cost)."""

from __future__ import annotations

from typing import Any

from amp_runtime.graphs import inline
from amp_runtime.providers import DeterministicProvider
from langgraph.graph import END, START, StateGraph

from . import nodes
from .state import CriticsState, TechOutput


def build_graph(checkpointer: Any = None, llm: nodes.Llm | None = None) -> Any:
    """`llm` answers the technical critic's question (the rules when none is given)."""
    asker: nodes.Llm = llm or DeterministicProvider()

    async def critic_tech(state: CriticsState) -> TechOutput:
        return await nodes.critic_tech(state, asker)

    g = StateGraph(CriticsState)
    g.add_node("critic_tech", critic_tech)
    g.add_node("critic_cost", inline(nodes.critic_cost))
    g.add_edge(START, "critic_tech")
    g.add_conditional_edges("critic_tech", inline(nodes.route_after_tech), {"end": END, "critic_cost": "critic_cost"})
    g.add_edge("critic_cost", END)
    return g.compile(checkpointer=checkpointer)
