"""Reason Cards: a structured rationale per decision (what ran, why, what else was weighed), never raw model text."""

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


class CardDraft(BaseModel):
    """A Reason Card as a node writes it; the step gives it its id and time when it records it."""

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


class ReasonCard(CardDraft):
    decision_id: str
    ts: datetime = Field(default_factory=utcnow)
    user_id: str | None = Field(None, description="Who caused the step that recorded this card (the token's subject "
                                                   "of the submitter, the person who answered or decided).")
