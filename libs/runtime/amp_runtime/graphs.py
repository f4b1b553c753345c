"""Running a service's LangGraph subgraph on its own checkpoint thread.

Six graphs share a decision set, so each service keeps its own thread, `{decision_set_id}/{service}`,
and they never write one checkpoint thread. Checkpoints are written when a run exits or pauses
(`durability="exit"`): the step protocol, not per-node checkpoints, gives exactly-once effects.

A graph run belongs to one step of the step protocol (its key is the state's `step`), and the
state's `cards` are that step's Reason Cards only (`step_cards`: a step starts by clearing them).
The checkpoint is written before the step is recorded in `agent_runs`, in another transaction, so
a process can die between the two; the redelivered step then finds its own run in the checkpoint
and takes it as it is (finished or paused), or continues it where it failed, instead of running
the graph again: each card once, no second model call, no second commit.

Graph state holds the contracts' typed models. The checkpointer deserialises only the model
classes of `amp_contracts` (`state_types`): a row in the checkpoint table can never make the
process build an arbitrary object.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import functools
import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import amp_contracts
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import Command
from pydantic import BaseModel

from .calls import current_call
from .telemetry import node_callbacks


def state_types() -> list[type]:
    """Every Pydantic model and enum the contracts define: what graph state may hold."""
    found: dict[tuple[str, str], type] = {}
    for info in pkgutil.iter_modules(amp_contracts.__path__, "amp_contracts."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if isinstance(obj, type) and obj.__module__ == module.__name__ and issubclass(obj, (BaseModel, enum.Enum)):
                found[(obj.__module__, obj.__name__)] = obj
    return list(found.values())


def serializer() -> Any:
    """LangGraph's serializer, restricted to the contracts' types (plus the standard safe types)."""
    return JsonPlusSerializer(allowed_msgpack_modules=state_types())


#: The latest checkpoint of a thread, read by `run_graph` just before it starts the graph on it.
_read_ahead: contextvars.ContextVar[tuple[tuple[str, str], CheckpointTuple | None] | None] = \
    contextvars.ContextVar("amp_checkpoint_read_ahead", default=None)


class ReadAheadSaver(AsyncPostgresSaver):
    """LangGraph's Postgres saver, with one read handed over.

    `run_graph` reads a thread's latest checkpoint to tell a fresh step from a rerun, then starts
    the graph, which reads the same checkpoint again first thing. The second read is given the
    first one's tuple (once, in the same task, for that thread): one query less per step, and
    nothing can have written the thread in between that the second read would have seen, since
    both happen back to back on the step's own thread."""

    async def aget_tuple(self, config: Any) -> CheckpointTuple | None:
        ahead = _read_ahead.get()
        conf = config.get("configurable", {})
        if ahead is not None and not conf.get("checkpoint_id") \
                and ahead[0] == (conf.get("thread_id"), conf.get("checkpoint_ns", "")):
            _read_ahead.set(None)
            return ahead[1]
        return await super().aget_tuple(config)


@contextlib.contextmanager
def _hand_over(config: dict[str, Any], saved: CheckpointTuple | None) -> Iterator[None]:
    conf = config["configurable"]
    token = _read_ahead.set(((conf["thread_id"], conf.get("checkpoint_ns", "")), saved))
    try:
        yield
    finally:
        _read_ahead.reset(token)


def step_cards(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Reducer of a graph's `cards`: nodes append; `None` (written when a step starts or resumes the
    graph) clears the cards of the step before. A plain `operator.add` would carry every earlier
    step's cards along, and a rerun of a step would append its cards a second time."""
    if right is None:
        return []
    return [*(left or []), *right]


_S = TypeVar("_S")
_O = TypeVar("_O")


def inline(node: Callable[[_S], _O]) -> Callable[[_S], Awaitable[_O]]:
    """A pure, quick node (or a conditional edge's router) run on the event loop instead of a worker thread.

    LangGraph runs a plain function node, and a plain function choosing a conditional edge, on a
    thread pool when the graph runs async: a thread hand-off per call that costs more than what
    these functions compute (rules over the state, an interrupt). Nodes that call a model stay
    async of their own; nothing blocking goes here."""

    @functools.wraps(node)
    async def run(state: _S) -> _O:
        return node(state)

    return run


@dataclass
class GraphRun:
    values: dict[str, Any]
    interrupt_id: str | None
    interrupt_value: Any
    checkpoint_id: str | None
    failed: bool = False  # the last run stopped on an error: its checkpoint holds a task to run again

    @property
    def step(self) -> str | None:
        """The key of the step whose run wrote this checkpoint."""
        return self.values.get("step")


def thread_config(decision_set_id: str, service: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"{decision_set_id}/{service}"}}


async def run_graph(graph: Any, decision_set_id: str, service: str, input: dict[str, Any], step: str) -> GraphRun:
    """Run the graph for step `step` from `input`, once.

    A rerun of the same step (its graph ran, the process died before `agent_runs` recorded it)
    takes the run the checkpoint recorded, or continues it from its failed task: it never starts
    over on top of its own checkpoint."""
    config = thread_config(decision_set_id, service)
    saved = await graph.checkpointer.aget_tuple(config)
    if saved is not None and saved.checkpoint.get("channel_values", {}).get("step") == step:
        current = await read_graph(graph, decision_set_id, service)  # a rerun: its pause or failed task
        return await _continue(graph, decision_set_id, service, current)
    with _hand_over(config, saved):
        return await _stream(graph, decision_set_id, service, {**input, "step": step, "cards": None})


async def _continue(graph: Any, decision_set_id: str, service: str, current: GraphRun) -> GraphRun:
    return await _stream(graph, decision_set_id, service, None) if current.failed else current


async def _stream(graph: Any, decision_set_id: str, service: str, input: Any) -> GraphRun:
    """Run to the end or to a pause, reading state, pause and checkpoint id from the run's own stream
    (no extra read of the checkpoint afterwards)."""
    config = thread_config(decision_set_id, service)
    callbacks = node_callbacks(service, getattr(current_call(), "accounting", None))
    if callbacks:
        config["callbacks"] = callbacks
    last: dict[str, Any] | None = None
    pause = None
    async for mode, chunk in graph.astream(input, config, stream_mode=["checkpoints", "updates"], durability="exit"):
        if mode == "checkpoints":
            last = chunk
        elif isinstance(chunk, dict) and "__interrupt__" in chunk:
            pause = chunk["__interrupt__"][0]
    if last is None:
        return await read_graph(graph, decision_set_id, service)
    return GraphRun(values=dict(last["values"]), interrupt_id=pause.id if pause else None,
                    interrupt_value=pause.value if pause else None,
                    checkpoint_id=last["config"]["configurable"].get("checkpoint_id"))


async def read_graph(graph: Any, decision_set_id: str, service: str) -> GraphRun:
    snapshot = await graph.aget_state(thread_config(decision_set_id, service))
    pending = [i for task in snapshot.tasks for i in task.interrupts]
    first = pending[0] if pending else None
    return GraphRun(values=dict(snapshot.values), interrupt_id=first.id if first else None,
                    interrupt_value=first.value if first else None,
                    checkpoint_id=(snapshot.config or {}).get("configurable", {}).get("checkpoint_id"),
                    failed=any(task.error for task in snapshot.tasks))


async def resume_graph(graph: Any, decision_set_id: str, service: str, interrupt_id: str | None, value: Any,
                       step: str) -> GraphRun:
    """Resume a pause with an answer, as step `step`, once.

    A rerun of that step takes the run its checkpoint recorded (or continues it from a failed
    task). If another step resumed that pause already (the graph moved on), the answer is not fed
    to the next pause: the graph's state is returned with no cards of this step's own."""
    current = await read_graph(graph, decision_set_id, service)
    if current.step == step:
        return await _continue(graph, decision_set_id, service, current)
    if current.interrupt_id is None or (interrupt_id and current.interrupt_id != interrupt_id):
        return replace(current, values={**current.values, "cards": []})
    return await _stream(graph, decision_set_id, service, Command(resume=value, update={"step": step, "cards": None}))
