"""Steps that replay cleanly: a crash after a step's LangGraph checkpoint is written and before the
step is recorded in `agent_runs` (`AMP_CRASH_AT=<agent>:before_commit`), in every agent whose graph
keeps Reason Cards, and a crash in validators after the version's git commit
(`validators:after_git_commit`). The run completes with the cards of a run that did not crash, each
once, in the events and in the graphs' final states, and with one git commit for its version.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator

import pytest
from flows import FRAUD, follow, is_gate, waivers_for

pytestmark = pytest.mark.integration

#: The agents whose graphs keep Reason Cards in their state (the `cards` channel).
CARD_GRAPHS = ("intake", "critics", "codegen", "validators")


def card_counts(events: list[dict]) -> Counter:
    return Counter((e["data"]["agent"], e["data"]["node_name"]) for e in events if e["type"] == "reason-card")


def complete(client, ds: str) -> list[dict]:
    gate = follow(client, ds, is_gate, timeout=180)[-1]
    assert gate[0] == "gate-waiting", gate
    client.approve(ds, "approved", "", waivers_for(gate[1]["policy"]))
    end = follow(client, ds, lambda ev, d: ev == "run-complete", timeout=240)[-1]
    assert end[1]["status"] == "completed", end
    return client.events(ds)


@contextlib.contextmanager
def supervised(stack) -> Iterator[None]:
    """Restart whatever exits (as `amp up` does), until the block ends."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(0.2):
            stack.supervise()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join()


def crash_next(stack, tmp_path, agent: str, point: str) -> object:
    """Restart an agent's process so that it dies at `point` once; returns the marker it leaves."""
    marker = tmp_path / f"crashed-{agent}-{point}"
    stack.kill(f"{agent}-0")
    stack.spawn_agent(f"{agent}-0", {"AMP_CRASH_AT": f"{agent}:{point}", "AMP_CRASH_MARKER": str(marker)})
    return marker


async def graph_states(settings, ds: str) -> dict[str, dict]:
    """The final state of each agent's graph on the decision set's threads, as the services' own
    checkpointer reads it."""
    import importlib

    from amp_runtime.bootstrap import open_checkpointer
    from amp_runtime.graphs import read_graph

    saver, pool = await open_checkpointer(settings.database_url, max_size=1)
    try:
        out = {}
        for agent in CARD_GRAPHS:
            module = importlib.import_module(f"services.{agent}.graph")
            graph = module.build_graph(None, saver) if agent == "validators" else module.build_graph(saver)
            out[agent] = (await read_graph(graph, ds, agent)).values
        return out
    finally:
        await pool.close()


async def committed(settings, project_id: str) -> tuple[list[str], dict[str, str]]:
    """The project's commits, newest first, and the files of the newest."""
    from amp_runtime.db import create_pool
    from amp_runtime.gitstore import git_store, history, read_tree

    pool = await create_pool(settings.database_url, max_size=1)
    try:
        repo = git_store(pool).repo(project_id)
        commits = await history(repo)
        return commits, (await read_tree(repo, commits[0]) if commits else {})
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def clean_cards(stack) -> Counter:
    """The cards of the same requirements on a run nothing interrupted."""
    from amp_cli.client import Client

    client = Client(stack.gateway_url, timeout=60)
    try:
        project = client.create_project("replay baseline")
        ds = client.submit(project["id"], FRAUD)["decision_set_id"]
        return card_counts(complete(client, ds))
    finally:
        client.close()


@pytest.mark.parametrize("validators_point", ["before_commit", "after_git_commit"])
def test_steps_that_crash_after_their_checkpoint_replay_their_cards_once(stack, settings, client, tmp_path,
                                                                         clean_cards, validators_point) -> None:
    markers = [crash_next(stack, tmp_path, agent, "before_commit") for agent in ("intake", "critics")]
    project = client.create_project(f"replay {validators_point}")
    with supervised(stack):
        ds = client.submit(project["id"], FRAUD)["decision_set_id"]
        gate = follow(client, ds, is_gate, timeout=180)[-1]
        assert gate[0] == "gate-waiting", gate
        # the approval path: the graph resumes from its pause, then the process dies before the record
        markers += [crash_next(stack, tmp_path, "codegen", "before_commit"),
                    crash_next(stack, tmp_path, "validators", validators_point)]
        client.approve(ds, "approved", "", waivers_for(gate[1]["policy"]))
        end = follow(client, ds, lambda ev, d: ev == "run-complete", timeout=240)[-1]
    assert [m.name for m in markers if not m.exists()] == [], "a crash point was not reached"
    assert end[1]["status"] == "completed" and client.decision_set(ds)["status"] == "completed"

    events = client.events(ds)
    assert card_counts(events) == clean_cards, "cards twice, or lost, after the crashes"
    cards = [e["data"] for e in events if e["type"] == "reason-card"]
    assert len({c["decision_id"] for c in cards}) == len(cards)

    states = asyncio.run(graph_states(settings, ds))
    recorded = Counter((c["agent"], c["node_name"], c["summary"]) for c in cards)
    for agent, state in states.items():
        mine = [(c.agent, c.node_name, c.summary) for c in state.get("cards") or []]
        assert len(mine) == len(set(mine)), f"{agent}: a card twice in the graph's state"
        assert all(recorded[k] >= 1 for k in mine), f"{agent}: a card of the graph's state was never recorded"
    assert {c.node_name for c in states["codegen"]["cards"]} == {"process_approval_feedback", "codegen"}

    # one version, one commit, and the zip (built by the step that was recorded) holds the committed
    # tree: a rerun that rebuilt the tree after the commit built the same tree
    final = client.decision_set(ds)
    commits, tree = asyncio.run(committed(settings, project["id"]))
    assert commits == [final["git_commit"]]
    with zipfile.ZipFile(io.BytesIO(client.artifact(ds))) as z:
        zipped = {n: z.read(n).decode() for n in z.namelist()}
    assert zipped == tree
    assert "duration" not in tree["reports/validation.json"]
