"""State of the validators subgraph (thread `{ds}/validators`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypedDict

from amp_contracts import CardDraft, DiffSummary, ReasonCard
from amp_runtime.graphs import step_cards


class ValidatorsState(TypedDict, total=False):
    project_id: str
    decision_set_id: str
    version: int
    tree_key: str
    state_doc: dict[str, Any]  # the decision set row, as JSON
    parent: dict[str, Any] | None  # its parent version's row
    cards_so_far: list[ReasonCard]
    user_id: str | None  # who caused the step (the approver): named on the step's own cards
    started_at: datetime  # the time of the message that started the step: the ts of the step's own cards
    files: dict[str, str]
    merge_conflicts: list[str]
    user_commit: str | None
    validation: dict[str, Any]
    reports: dict[str, str]
    rationale_md: str
    git_commit: str
    artifact_key: str
    diff: DiffSummary
    step: str  # the key of the step that ran the graph last (amp_runtime.graphs)
    cards: Annotated[list[CardDraft], step_cards]  # this step's cards only
