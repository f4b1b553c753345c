"""The validators subgraph: validators → rationale_compile → diff_and_persist."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from amp_contracts import CardDraft
from amp_runtime.cards import stamp_cards
from amp_runtime.gitstore import latest_user_tree
from langgraph.graph import END, START, StateGraph

from . import nodes
from .state import ValidatorsState


def build_graph(persist: nodes.PersistDeps, checkpointer: Any = None) -> Any:
    async def load(key: str) -> dict[str, str]:
        return json.loads(await persist.load_tree(key))

    async def merge_user_edits(state: ValidatorsState) -> dict[str, Any]:
        """The tree to validate and keep: this generation with the user's uploaded edits merged in."""
        generated = await load(state["tree_key"])
        upload = await latest_user_tree(persist.git.repo(state["project_id"]))
        base = None
        if upload is not None:
            base_key = await persist.tree_key_of(upload[1])
            base = await load(base_key) if base_key else None
        # A three-way merge of the user's (untrusted, up to 100 MiB) files: CPU work, off the event loop.
        files, conflicts, user_commit = await asyncio.to_thread(nodes.carry_user_edits, generated, upload, base)
        cards = []
        if user_commit:
            cards.append(CardDraft(agent="persist", node_name="merge_user_edits", trigger="regen",
                                   summary=f"Merged the user's edits ({user_commit[:12]}) into this generation"
                                           + (f"; {len(conflicts)} conflict(s): {', '.join(conflicts)}" if conflicts
                                              else " without conflicts"),
                                   risks=[f"merge conflict in {p}" for p in conflicts],
                                   confidence=0.8 if conflicts else 1.0))
        return {"files": files, "merge_conflicts": conflicts, "user_commit": user_commit, "cards": cards}

    async def validators(state: ValidatorsState) -> dict[str, Any]:
        return await asyncio.to_thread(nodes.validators, state["files"], persist.checkov, persist.timeout_s,
                                     persist.osv_url, state.get("state_doc"), persist.terraform)

    def rationale_compile(state: ValidatorsState) -> dict[str, Any]:
        # the ids and time the step will record these cards with: a rerun compiles the same files
        own = stamp_cards(state.get("cards", []), state.get("step") or f"{state['decision_set_id']}/validators",
                          ts=state.get("started_at"), user_id=state.get("user_id"))
        compiled = [*state.get("cards_so_far", []), *own]
        out = nodes.rationale_compile(compiled)
        card = CardDraft(agent="rationale", node_name="rationale_compile", trigger="user_approve",
                         summary=f"Compiled {len(compiled)} Reason Cards into reports/rationale.json and "
                                 "docs/design-rationale.md (secrets and personal data redacted)",
                         links={"rationale": "/reports/rationale.json"}, confidence=1.0)
        return {"reports": {**state.get("reports", {}), **out["reports"]}, "rationale_md": out["rationale_md"],
                "cards": [card]}

    async def diff_and_persist(state: ValidatorsState) -> dict[str, Any]:
        tree = nodes.final_tree(state["files"], state["reports"], state["rationale_md"])
        return await nodes.diff_and_persist(dict(state), tree, persist)

    g = StateGraph(ValidatorsState)
    g.add_node("merge_user_edits", merge_user_edits)
    g.add_node("validators", validators)
    g.add_node("rationale_compile", rationale_compile)
    g.add_node("diff_and_persist", diff_and_persist)
    g.add_edge(START, "merge_user_edits")
    g.add_edge("merge_user_edits", "validators")
    g.add_edge("validators", "rationale_compile")
    g.add_edge("rationale_compile", "diff_and_persist")
    g.add_edge("diff_and_persist", END)
    return g.compile(checkpointer=checkpointer)
