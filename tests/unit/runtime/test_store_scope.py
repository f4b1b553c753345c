"""Every store read the gateway makes of a project's data names the project: a keyword it cannot omit."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from amp_runtime import store

from services.gateway import sse

GATEWAY = Path(__file__).resolve().parents[3] / "services" / "gateway"
SCOPED = {"get_decision_set", "find_project_decision_set", "list_events", "list_event_frames", "list_reason_cards"}
UNSCOPED = {"find_decision_set"}  # a service's lookup by the id in its own message: never the gateway's


def _requires_project(fn) -> bool:
    p = inspect.signature(fn).parameters.get("project_id")
    return p is not None and p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty


def test_project_scoped_reads_require_the_project() -> None:
    for name in SCOPED:
        assert _requires_project(getattr(store, name)), name
    for fn in (sse.event_chunks, sse.stream_response, sse.ended_before):
        assert _requires_project(fn), fn.__name__


def test_the_gateway_reads_decision_sets_and_events_only_through_scoped_calls() -> None:
    called: dict[str, list[str]] = {}
    for path in GATEWAY.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "store":
                called.setdefault(node.func.attr, []).append(path.name)
                if node.func.attr in SCOPED:
                    assert any(k.arg == "project_id" for k in node.keywords), (path.name, node.lineno)
    assert not UNSCOPED & called.keys(), {k: called[k] for k in UNSCOPED & called.keys()}
    assert {"get_decision_set", "list_events"} <= called.keys()
