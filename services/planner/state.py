"""State of the planner subgraph (thread `{ds}/planner`) and what its node returns."""

from __future__ import annotations

from typing import TypedDict

from amp_contracts import Assumption, CardDraft, ConstraintSchema, Plan, Risk


class PlannerState(TypedDict, total=False):
    constraints: ConstraintSchema
    assumptions: list[Assumption]
    feedback: list[Risk]
    round: int
    trigger: str
    plan: Plan
    step: str  # the key of the step that ran the graph last (amp_runtime.graphs)
    cards: list[CardDraft]


class PlannerOutput(TypedDict):
    plan: Plan
    cards: list[CardDraft]
