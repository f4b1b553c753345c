"""Request bodies of the REST API (the answers are typed in `amp_contracts.api`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from amp_contracts import ConstraintSchema, FreeText, ShortText, Waiver, WebhookEventType
from amp_domain.access import Role
from pydantic import BaseModel, ConfigDict, Field, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectCreate(Strict):
    name: ShortText = Field(min_length=1, max_length=200)
    description: ShortText = Field("", max_length=5_000)
    four_eyes: bool = Field(False, description="Whoever submitted a version cannot approve it.")


class SessionCreate(Strict):
    token: str = Field(min_length=10, max_length=16_384, description="A bearer token (`amp token --user NAME`).")


class ProjectPatch(Strict):
    four_eyes: bool | None = Field(None, description="Whoever submitted a version cannot approve it.")


class MemberPut(Strict):
    role: Role = Field(description="owner, architect, reviewer, finops or viewer")


class ApiKeyCreate(Strict):
    name: ShortText = Field(min_length=1, max_length=200)
    role: Role = "viewer"
    expires_at: datetime | None = Field(None, description="When the key stops working (default: never).")


class ConstraintsSubmit(Strict):
    """Freeform requirements, structured constraints, or both (structured wins on conflict)."""

    text: FreeText = Field("", description="Freeform requirements.")
    constraints: dict[str, Any] = Field(default_factory=dict, description="Structured ConstraintSchema fields.")

    @field_validator("constraints")
    @classmethod
    def _schema(cls, v: dict[str, Any]) -> dict[str, Any]:
        return ConstraintSchema.model_validate(v).stated()

    def is_empty(self) -> bool:
        return not self.text.strip() and not self.constraints


class AnswersSubmit(Strict):
    interrupt_id: str | None = Field(None, description="The gate-waiting event's interrupt_id; defaults to the open one.")
    answers: dict[str, Any] = Field(default_factory=dict, description="Typed answers keyed by constraint field.")
    text: FreeText = Field("", description="Free-text answer, read by the same extractor.")

    @field_validator("answers")
    @classmethod
    def _known_fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(v) - set(ConstraintSchema.model_fields))
        if unknown:
            raise ValueError(f"unknown constraint fields {unknown}")
        return v


class Approve(Strict):
    status: Literal["approved", "rejected", "changes_requested"]
    comment: FreeText = ""
    by: ShortText | None = Field(None, max_length=200, description="Ignored: the decider is the signed-in caller.")
    waivers: list[Waiver] = Field(default_factory=list, description="Waivers for failed policy rules.")


class PoliciesPut(Strict):
    rules: list[dict[str, Any]] = Field(default_factory=list)
    waivers: list[Waiver] = Field(default_factory=list)


class Preview(Strict):
    text: FreeText = ""


class BudgetPut(Strict):
    # stored as numeric(14, 6): a larger cap could not be kept (422, not a failed write)
    limit_usd: float | None = Field(None, ge=0, le=99_999_999.99,
                                    description="Cap on the project's total LLM spend in USD; null removes it.")


class WebhookCreate(Strict):
    """A subscription: where to POST and which events (`GET /webhooks/event-types` lists them)."""

    url: str = Field(min_length=1, max_length=2048, description="https:// endpoint that receives the deliveries.")
    events: list[WebhookEventType] = Field(min_length=1, description="Event types to deliver.")
    description: str = Field("", max_length=500)
    enabled: bool = True

    @field_validator("events")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


class WebhookPatch(Strict):
    url: str | None = Field(None, min_length=1, max_length=2048)
    events: list[WebhookEventType] | None = Field(None, min_length=1)
    description: str | None = Field(None, max_length=500)
    enabled: bool | None = Field(None, description="false pauses deliveries; true resumes them (and clears a 410).")

    @field_validator("events")
    @classmethod
    def _unique(cls, v: list[str] | None) -> list[str] | None:
        return list(dict.fromkeys(v)) if v is not None else None


class SecretRotate(Strict):
    overlap_s: float = Field(86_400, ge=0, le=7 * 86_400, description="How long the current secret keeps signing "
                                                                      "too (both signatures are sent).")
