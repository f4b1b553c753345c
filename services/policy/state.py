"""State of the policy subgraph (thread `{ds}/policy`)."""

from __future__ import annotations

from typing import Any, TypedDict


class PolicyState(TypedDict, total=False):
    constraints: dict[str, Any]
    plan: dict[str, Any]
    cost: dict[str, Any]
    previous_cost: dict[str, Any] | None
    project_rules: list[dict[str, Any]]
    waivers: list[dict[str, Any]]
    now: str
    policy: dict[str, Any]
    cards: list[dict[str, Any]]
