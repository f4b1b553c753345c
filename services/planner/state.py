"""State of the planner subgraph (thread `{ds}/planner`)."""

from __future__ import annotations

from typing import Any, TypedDict


class PlannerState(TypedDict, total=False):
    constraints: dict[str, Any]
    assumptions: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    round: int
    trigger: str
    plan: dict[str, Any]
    cards: list[dict[str, Any]]
