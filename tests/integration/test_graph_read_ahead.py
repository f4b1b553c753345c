"""`run_graph` reads a thread's checkpoint once per fresh step, over the real Postgres checkpointer."""

from __future__ import annotations

import operator
import uuid
from typing import Annotated, Any, TypedDict

import pytest
from amp_runtime.bootstrap import open_checkpointer
from amp_runtime.graphs import ReadAheadSaver, run_graph, step_cards
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph

pytestmark = pytest.mark.integration


class State(TypedDict, total=False):
    step: str
    cards: Annotated[list[Any], step_cards]
    n: Annotated[int, operator.add]


class CountingSaver(AsyncPostgresSaver):
    """The Postgres saver counting the checkpoint reads that reach the database."""

    reads: list[str]

    async def aget_tuple(self, config: Any) -> Any:
        self.reads.append(config["configurable"]["thread_id"])
        return await super().aget_tuple(config)


class Probe(ReadAheadSaver, CountingSaver):
    pass


def graph(saver: Any, ran: list[int]) -> Any:
    def node(state: State) -> dict[str, Any]:
        ran.append(state.get("n", 0))
        return {"n": 1, "cards": [f"card {len(ran)}"]}

    g = StateGraph(State)
    g.add_node("node", node)
    g.add_edge(START, "node")
    g.add_edge("node", END)
    return g.compile(checkpointer=saver)


async def test_a_fresh_step_reads_its_checkpoint_once_and_a_rerun_runs_nothing(migrated: str) -> None:
    base, pool = await open_checkpointer(migrated)
    try:
        saver = Probe(pool, serde=base.serde)
        saver.reads = []
        ran: list[int] = []
        g = graph(saver, ran)
        ds = str(uuid.uuid4())
        thread = f"{ds}/svc"

        first = await run_graph(g, ds, "svc", {"n": 0}, "k1")
        assert ran == [0] and first.values["n"] == 1 and first.values["cards"] == ["card 1"]
        assert saver.reads.count(thread) == 1  # the graph's own read was handed over

        saver.reads.clear()
        second = await run_graph(g, ds, "svc", {"n": 0}, "k2")
        assert ran == [0, 1] and second.values["n"] == 2 and second.values["cards"] == ["card 2"]
        assert saver.reads.count(thread) == 1

        rerun = await run_graph(g, ds, "svc", {"n": 0}, "k2")  # the same step again: its recorded run
        assert ran == [0, 1] and rerun.values["n"] == 2 and rerun.values["cards"] == ["card 2"]
        assert rerun.checkpoint_id == second.checkpoint_id
    finally:
        await pool.close()


async def test_a_read_ahead_is_never_handed_to_another_thread(migrated: str) -> None:
    base, pool = await open_checkpointer(migrated)
    try:
        saver = Probe(pool, serde=base.serde)
        saver.reads = []
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        ran: list[int] = []
        await run_graph(graph(saver, ran), a, "svc", {"n": 0}, "k1")
        await run_graph(graph(saver, ran), a, "svc", {"n": 0}, "k2")
        fresh = await run_graph(graph(saver, ran), b, "svc", {"n": 0}, "k1")  # b has no checkpoint yet
        assert fresh.values["n"] == 1
        assert saver.reads.count(f"{b}/svc") == 1
    finally:
        await pool.close()
