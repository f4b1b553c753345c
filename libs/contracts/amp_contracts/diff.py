"""Change Summary: what one decision-set version changed against its parent."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ValueChange(BaseModel):
    """One value that differs between two versions (a constraint field, or a capability's pattern)."""

    key: str
    before: Any = None
    after: Any = None


class DiffSummary(BaseModel):
    parent_decision_set_id: str | None = None
    docs_changed: list[str] = Field(default_factory=list)
    files_added: int = 0
    files_removed: int = 0
    files_modified: int = 0
    paths_added: list[str] = Field(default_factory=list)
    paths_removed: list[str] = Field(default_factory=list)
    paths_modified: list[str] = Field(default_factory=list)
    cost_delta_usd: float | None = None
    state_keys_changed: list[str] = Field(default_factory=list)
    constraint_changes: list[ValueChange] = Field(default_factory=list, description="Constraint fields that differ.")
    component_changes: list[ValueChange] = Field(default_factory=list,
                                                 description="Capabilities whose pattern differs (or that came or went).")
    git_commit: str | None = None
    prompt_pack_change: str | None = None
    merge_conflicts: list[str] = Field(default_factory=list)
