"""State of the gate + codegen subgraph (thread `{ds}/codegen`) and what its nodes return."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from amp_contracts import CardDraft, ConstraintSchema, CostEstimate, Plan, PolicyResults, ReasonCard, Risk, Waiver
from amp_runtime.graphs import step_cards

Outcome = Literal["generate", "replan", "rejected", "stale"]


class Decision(TypedDict, total=False):
    """What the gate was resumed with: a person's decision, or the sweeper's expiry."""

    status: Literal["approved", "rejected", "changes_requested", "expired"]
    comment: str
    by: str
    waivers: list[Waiver]
    prior_cards: list[ReasonCard]


class CodegenState(TypedDict, total=False):
    project_id: str
    project_name: str
    requirements: str
    constraints: ConstraintSchema
    plan: Plan
    risks: list[Risk]
    cost: CostEstimate
    policy: PolicyResults
    decision: Decision
    patch: dict[str, Any]
    outcome: Outcome
    files: dict[str, str]
    step: str  # the key of the step that ran the graph last (amp_runtime.graphs)
    cards: Annotated[list[CardDraft], step_cards]  # this step's cards only


class FeedbackOutput(TypedDict):
    outcome: Outcome
    patch: dict[str, Any]
    cards: list[CardDraft]


class CodegenOutput(TypedDict):
    files: dict[str, str]
    cards: list[CardDraft]
