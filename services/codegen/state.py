"""State of the gate + codegen subgraph (thread `{ds}/codegen`)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class CodegenState(TypedDict, total=False):
    project_name: str
    constraints: dict[str, Any]
    plan: dict[str, Any]
    risks: list[dict[str, Any]]
    cost: dict[str, Any]
    policy: dict[str, Any]
    decision: dict[str, Any]
    patch: dict[str, Any]
    outcome: str
    files: dict[str, str]
    cards: Annotated[list[dict[str, Any]], operator.add]
