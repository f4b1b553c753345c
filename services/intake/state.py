"""State of the intake subgraph (checkpointed per decision set on `{ds}/intake`) and its nodes' outputs."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from amp_contracts import Assumption, CardDraft, ConstraintSchema, Coverage, Question, Span
from amp_runtime.graphs import step_cards


class Answer(TypedDict, total=False):
    """What the user sent to the intake gate (the interrupt's resume value)."""

    answers: dict[str, Any]
    text: str


class IntakeState(TypedDict, total=False):
    text: str
    input_constraints: ConstraintSchema
    constraints: ConstraintSchema
    spans: list[Span]
    overridden: list[str]
    coverage: Coverage
    questions: list[Question]
    asked: list[str]
    round: int
    answer: Answer
    assumptions: list[Assumption]
    complete: bool
    step: str  # the key of the step that ran the graph last (amp_runtime.graphs)
    cards: Annotated[list[CardDraft], step_cards]  # this step's cards only


class Extracted(TypedDict):
    constraints: ConstraintSchema
    spans: list[Span]
    overridden: list[str]
    cards: list[CardDraft]
    asked: list[str]
    round: int


class Covered(TypedDict):
    coverage: Coverage
    cards: list[CardDraft]


class Asked(TypedDict, total=False):
    questions: list[Question]
    asked: list[str]
    round: int
    cards: list[CardDraft]


class Answered(TypedDict, total=False):
    constraints: ConstraintSchema
    questions: list[Question]
    cards: list[CardDraft]


class Finalized(TypedDict):
    assumptions: list[Assumption]
    complete: bool
    cards: list[CardDraft]
