"""The per-step call context of model-backed nodes, carried into the graph by a context variable.

A step sets it before running its subgraph; LangGraph runs nodes in tasks that copy the
context, so nodes read the same accounting and budget guard. The usage recorded there is
persisted in the step's own transaction (exactly once, like everything else a step writes).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from .providers import Accounting, CallContext

_CALL: contextvars.ContextVar[Any] = contextvars.ContextVar("amp_call_context", default=None)


def current_call() -> Any:
    return _CALL.get()


@contextlib.contextmanager
def call_context(ctx: Any) -> Iterator[Any]:
    token = _CALL.set(ctx)
    try:
        yield ctx
    finally:
        _CALL.reset(token)


def new_call(project_id: str, decision_set_id: str, budget: Any = None) -> Any:
    """A step's call context; `budget` is the guard each model call checks first (`budget_guard`)."""
    return CallContext(project_id=project_id, decision_set_id=decision_set_id, accounting=Accounting(), budget=budget)


def usage_rows(ctx: Any) -> list[dict[str, Any]]:
    """What the step's model calls used, as rows for `llm_usage`."""
    if ctx is None or ctx.accounting is None:
        return []
    return [{"node": r.node, "info": r.info.model_dump(mode="json"), "usd": r.usd} for r in ctx.accounting.records]


def provenance(result: Any) -> dict[str, Any]:
    """The Reason Card fields that say who answered: provider, model, tokens, prompt pack."""
    return {"provider": result.info.model_dump(mode="json"), "prompt_pack_hash": result.prompt_pack_hash}


