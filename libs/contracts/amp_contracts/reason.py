"""Reason Cards (seed §19, §22.2): a structured rationale per decision, never raw model text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from .plan import Candidate, Choice


def utcnow() -> datetime:
    return datetime.now(UTC)


class Inputs(BaseModel):
    constraints_keys: list[str] = Field(default_factory=list)
    artifacts: list[str] = Field(default_factory=list)
    spans: list[dict[str, Any]] = Field(default_factory=list, description="Text spans the inputs came from.")


class ProviderInfo(BaseModel):
    """Which provider answered a node, so that a card says whether a model or the rules decided."""

    provider: str = "deterministic"
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    fallback_from: str | None = None


class ReasonCard(BaseModel):
    decision_id: str
    agent: str
    node_name: str
    trigger: Literal["constraints_updated", "user_answer", "user_approve", "regen", "critic_feedback"] = "constraints_updated"
    inputs: Inputs = Field(default_factory=Inputs)
    summary: str = ""
    candidates: list[Candidate] = Field(default_factory=list)
    choice: Choice | None = None
    policy_results: dict[str, str] = Field(default_factory=dict)
    impacts: dict[str, Any] = Field(default_factory=dict)
    confidence: float = Field(0.5, ge=0, le=1)
    risks: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    links: dict[str, str] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    provider: ProviderInfo = Field(default_factory=ProviderInfo)
    prompt_pack_hash: str | None = None
    ts: datetime = Field(default_factory=utcnow)
