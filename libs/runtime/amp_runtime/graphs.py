"""Running a service's LangGraph subgraph on its own checkpoint thread.

Six graphs share a decision set, so each service keeps its own thread, `{decision_set_id}/{service}`,
and they never write one checkpoint thread. Checkpoints are written when a run exits or pauses
(`durability="exit"`): the step protocol, not per-node checkpoints, gives exactly-once effects.

Graph state holds the contracts' typed models. The checkpointer deserialises only the model
classes of `amp_contracts` (`state_types`): a row in the checkpoint table can never make the
process build an arbitrary object.
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any

import amp_contracts
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


@dataclass
class GraphRun:
    values: dict[str, Any]
    interrupt_id: str | None
    interrupt_value: Any
    checkpoint_id: str | None


def thread_config(decision_set_id: str, service: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"{decision_set_id}/{service}"}}


async def run_graph(graph: Any, decision_set_id: str, service: str, input: Any) -> GraphRun:
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
                    checkpoint_id=(snapshot.config or {}).get("configurable", {}).get("checkpoint_id"))


async def resume_graph(graph: Any, decision_set_id: str, service: str, interrupt_id: str | None, value: Any) -> GraphRun:
    """Resume a pause with an answer, once: if that pause was already resumed (a redelivery after
    the graph moved on but before the step was recorded), read where the graph is instead of
    feeding the answer to the next pause."""
    current = await read_graph(graph, decision_set_id, service)
    if current.interrupt_id is None or (interrupt_id and current.interrupt_id != interrupt_id):
        return current
    return await run_graph(graph, decision_set_id, service, Command(resume=value))
