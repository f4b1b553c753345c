"""State of the critics subgraph (thread `{ds}/critics`) and what its nodes return."""

from __future__ import annotations

from typing import Annotated, TypedDict

from amp_contracts import CardDraft, ConstraintSchema, CostEstimate, Plan, Risk
from amp_runtime.graphs import step_cards


class CriticsState(TypedDict, total=False):
    constraints: ConstraintSchema
    plan: Plan
    previous_cost: CostEstimate | None
    max_rounds: int
    risks: list[Risk]
    replan: bool
    cost: CostEstimate
    step: str  # the key of the step that ran the graph last (amp_runtime.graphs)
    cards: Annotated[list[CardDraft], step_cards]  # this step's cards only


class TechOutput(TypedDict):
    risks: list[Risk]
    replan: bool
    cards: list[CardDraft]


class CostOutput(TypedDict):
    cost: CostEstimate
    cards: list[CardDraft]
