"""State of the policy subgraph (thread `{ds}/policy`) and what its node returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from amp_contracts import CardDraft, ConstraintSchema, CostEstimate, Plan, PolicyResults, Waiver


class PolicyState(TypedDict, total=False):
    constraints: ConstraintSchema
    plan: Plan
    cost: CostEstimate
    previous_cost: CostEstimate | None
    project_rules: list[dict[str, Any]]
    waivers: list[Waiver]
    now: datetime
    policy: PolicyResults
    step: str  # the key of the step that ran the graph last (amp_runtime.graphs)
    cards: list[CardDraft]


class PolicyOutput(TypedDict):
    policy: PolicyResults
    cards: list[CardDraft]
