"""The validators subgraph: validators → rationale_compile → diff_and_persist."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from langgraph.graph import END, START, StateGraph

from amp_runtime.cards import stamp_cards

from . import nodes
from .state import ValidatorsState


def build_graph(persist: nodes.PersistDeps, checkpointer: Any = None) -> Any:
    async def load(state: ValidatorsState) -> dict[str, str]:
        return json.loads(await persist.load_tree(state["tree_key"]))

    async def validators(state: ValidatorsState) -> dict[str, Any]:
        files = await load(state)
        return await asyncio.to_thread(nodes.validators, files, persist.checkov)

    def rationale_compile(state: ValidatorsState) -> dict[str, Any]:
        own = [c.model_dump(mode="json") for c in stamp_cards(state.get("cards", []), f"{state['decision_set_id']}/validators")]
        compiled = [*state.get("cards_so_far", []), *own]
        out = nodes.rationale_compile(compiled)
        card = {"agent": "rationale", "node_name": "rationale_compile", "trigger": "user_approve",
                "summary": f"Compiled {len(compiled)} Reason Cards into reports/rationale.json and "
                           "docs/design-rationale.md (secrets and personal data redacted)",
                "links": {"rationale": "/reports/rationale.json"}, "confidence": 1.0}
        return {"reports": {**state.get("reports", {}), **out["reports"]}, "rationale_md": out["rationale_md"],
                "cards": [card]}

    async def diff_and_persist(state: ValidatorsState) -> dict[str, Any]:
        tree = nodes.final_tree(await load(state), state["reports"], state["rationale_md"])
        return await nodes.diff_and_persist(dict(state), tree, persist)

    g = StateGraph(ValidatorsState)
    g.add_node("validators", validators)
    g.add_node("rationale_compile", rationale_compile)
    g.add_node("diff_and_persist", diff_and_persist)
    g.add_edge(START, "validators")
    g.add_edge("validators", "rationale_compile")
    g.add_edge("rationale_compile", "diff_and_persist")
    g.add_edge("diff_and_persist", END)
    return g.compile(checkpointer=checkpointer)
