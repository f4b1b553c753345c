"""State of the critics subgraph (thread `{ds}/critics`) and what its nodes return."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from amp_contracts import CardDraft, ConstraintSchema, CostEstimate, Plan, Risk


class CriticsState(TypedDict, total=False):
    constraints: ConstraintSchema
    plan: Plan
    previous_cost: CostEstimate | None
    max_rounds: int
    risks: list[Risk]
    replan: bool
    cost: CostEstimate
    cards: Annotated[list[CardDraft], operator.add]


class TechOutput(TypedDict):
    risks: list[Risk]
    replan: bool
    cards: list[CardDraft]


class CostOutput(TypedDict):
    cost: CostEstimate
    cards: list[CardDraft]
