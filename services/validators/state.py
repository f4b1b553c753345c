"""State of the validators subgraph (thread `{ds}/validators`)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class ValidatorsState(TypedDict, total=False):
    project_id: str
    decision_set_id: str
    version: int
    tree_key: str
    state_doc: dict[str, Any]
    parent: dict[str, Any] | None
    cards_so_far: list[dict[str, Any]]
    files: dict[str, str]
    merge_conflicts: list[str]
    user_commit: str | None
    validation: dict[str, Any]
    reports: dict[str, str]
    rationale_md: str
    git_commit: str
    artifact_key: str
    diff: dict[str, Any]
    cards: Annotated[list[dict[str, Any]], operator.add]
