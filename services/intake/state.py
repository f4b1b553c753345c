"""State of the intake subgraph (checkpointed per decision set on `{ds}/intake`)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class IntakeState(TypedDict, total=False):
    text: str
    input_constraints: dict[str, Any]
    constraints: dict[str, Any]
    spans: list[dict[str, Any]]
    overridden: list[str]
    coverage: dict[str, Any]
    questions: list[dict[str, Any]]
    asked: list[str]
    round: int
    answer: dict[str, Any]
    assumptions: list[dict[str, Any]]
    complete: bool
    cards: Annotated[list[dict[str, Any]], operator.add]
