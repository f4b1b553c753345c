"""Policy results and the waivers that may accept a failed rule."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from .text import ShortText

Status = Literal["pass", "warn", "fail"]


class RuleResult(BaseModel):
    id: str
    status: Status
    detail: str
    control: str = Field("", description="The compliance control the rule maps to.")
    waived: bool = False
    waiver_reason: str | None = None


class PolicyResults(BaseModel):
    rules: list[RuleResult] = Field(default_factory=list)
    overall: Status = "pass"
    requires_review: bool = Field(False, description="A rule forces human review (e.g. a large cost delta).")


class Waiver(BaseModel):
    rule_id: str = Field(max_length=200)
    reason: ShortText = Field(min_length=3)
    by: ShortText = Field("", description="Who granted it: the gateway records the signed-in caller.")
    expires_at: datetime | None = None


def overall_of(rules: list[RuleResult]) -> Status:
    """The worst unwaived status: one fail fails the set."""
    live = [r.status for r in rules if not r.waived]
    return "fail" if "fail" in live else "warn" if "warn" in live else "pass"
