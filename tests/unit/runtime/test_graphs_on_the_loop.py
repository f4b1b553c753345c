"""The plan path's graphs run every node and every edge choice on the event loop.

LangGraph runs a plain function (a node, or a conditional edge's router) on a worker thread when a
graph runs async; for the quick rules of these graphs the hand-off costs more than the rule. A plain
function added to one of these graphs without `amp_runtime.graphs.inline` fails here."""

from __future__ import annotations

import functools
import importlib

import pytest
from langchain_core.runnables.config import run_in_executor
from langgraph._internal._runnable import RunnableCallable

PLAN_PATH = ("intake", "planner", "critics", "policy", "codegen")


def _on_a_thread(runnable: object) -> bool:
    afunc = getattr(runnable, "afunc", None)
    return isinstance(runnable, RunnableCallable) and (
        afunc is None or (isinstance(afunc, functools.partial) and afunc.func is run_in_executor))


@pytest.mark.parametrize("service", PLAN_PATH)
def test_no_node_or_edge_of_the_graph_runs_on_a_worker_thread(service: str) -> None:
    builder = importlib.import_module(f"services.{service}.graph").build_graph().builder
    nodes = {name: spec.runnable for name, spec in builder.nodes.items()}
    routers = {f"{src}->{name}": branch.path for src, branches in builder.branches.items()
               for name, branch in branches.items()}
    assert nodes, "the graph has nodes"
    threaded = [name for name, r in {**nodes, **routers}.items() if _on_a_thread(r)]
    assert threaded == [], f"run on a worker thread: {threaded}"


def test_the_check_sees_a_plain_function() -> None:
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class S(TypedDict):
        x: int

    g = StateGraph(S)
    g.add_node("plain", lambda s: {"x": 1})
    g.add_edge(START, "plain")
    g.add_conditional_edges("plain", lambda s: END)
    builder = g.compile().builder
    assert _on_a_thread(builder.nodes["plain"].runnable)
    assert all(_on_a_thread(b.path) for b in builder.branches["plain"].values())
