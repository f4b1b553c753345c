"""State of the critics subgraph (thread `{ds}/critics`)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class CriticsState(TypedDict, total=False):
    constraints: dict[str, Any]
    plan: dict[str, Any]
    previous_cost: dict[str, Any] | None
    max_rounds: int
    risks: list[dict[str, Any]]
    replan: bool
    cost: dict[str, Any]
    cards: Annotated[list[dict[str, Any]], operator.add]
