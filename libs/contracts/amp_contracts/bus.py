"""Subjects, the one versioned envelope of every bus message, and the payload of each subject.

Which service consumes which subject, and in what order the agents run, is `pipeline.PIPELINE`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from .constraints import Assumption, ConstraintSchema, Coverage
from .cost import CostEstimate
from .diff import DiffSummary
from .plan import Plan, Risk
from .policy import PolicyResults, Waiver
from .reason import utcnow
from .text import FreeText, ShortText

SCHEMA_VERSION = 1
STREAM = "AMP"
PREFIX = "amp"


class Subjects:
    """Every subject name, defined once."""

    INTAKE_REQUESTED = "amp.intake.requested"
    INTAKE_ANSWERED = "amp.intake.answered"
    INTAKE_COMPLETED = "amp.intake.completed"
    PLAN_REVISE = "amp.plan.revise"
    PLAN_PROPOSED = "amp.plan.proposed"
    CRITIQUE_COMPLETED = "amp.critique.completed"
    POLICY_EVALUATED = "amp.policy.evaluated"
    GATE_DECIDED = "amp.gate.decided"
    GATE_EXPIRE = "amp.gate.expire"
    CODEGEN_COMPLETED = "amp.codegen.completed"
    RUN_COMPLETED = "amp.run.completed"
    EVENTS = "amp.events"          # amp.events.<decision_set_id>
    DEAD_LETTER = "amp.dlq"        # amp.dlq.<service>

    @staticmethod
    def events(decision_set_id: str) -> str:
        return f"{Subjects.EVENTS}.{decision_set_id}"

    @staticmethod
    def dead_letter(service: str) -> str:
        return f"{Subjects.DEAD_LETTER}.{service}"


P = TypeVar("P", bound=BaseModel)


class Envelope(BaseModel, Generic[P]):
    """What travels on every subject: routing and tracing fields, then the typed payload."""

    schema_version: int = SCHEMA_VERSION
    project_id: str
    decision_set_id: str
    run_id: str
    idempotency_key: str = Field("", description="Key of the step that published this message.")
    traceparent: str | None = Field(None, description="W3C trace context of the publishing span.")
    user_id: str | None = Field(None, description="Who caused this message (the token's subject): the submitter, "
                                                  "the person who answered or decided; carried along the chain.")
    request_id: str | None = Field(None, description="The gateway request that started the chain (its "
                                                     "X-Request-ID), carried along it for log correlation.")
    ts: datetime = Field(default_factory=utcnow)
    payload: P


class IntakeRequested(BaseModel):
    text: FreeText = ""
    constraints: dict[str, Any] = Field(default_factory=dict, description="Structured constraints; they win over the text.")
    parent_decision_set_id: str | None = None


class IntakeAnswered(BaseModel):
    interrupt_id: str | None = None
    answers: dict[str, Any] = Field(default_factory=dict)
    text: FreeText = ""


class IntakeCompleted(BaseModel):
    constraints: ConstraintSchema
    coverage: Coverage
    assumptions: list[Assumption] = Field(default_factory=list)
    trigger: Literal["constraints_updated", "user_answer", "user_approve", "regen", "critic_feedback"] = "constraints_updated"
    feedback: list[str] = Field(default_factory=list, description="Reasons a previous version was changed.")


class PlanRevise(BaseModel):
    constraints: ConstraintSchema
    plan: Plan
    risks: list[Risk]
    round: int


class PlanProposed(BaseModel):
    constraints: ConstraintSchema
    plan: Plan


class CritiqueCompleted(BaseModel):
    constraints: ConstraintSchema
    plan: Plan
    risks: list[Risk]
    cost: CostEstimate


class PolicyEvaluated(BaseModel):
    constraints: ConstraintSchema
    plan: Plan
    risks: list[Risk]
    cost: CostEstimate
    policy: PolicyResults


class GateDecided(BaseModel):
    interrupt_id: str | None = None
    status: Literal["approved", "rejected", "changes_requested"]
    comment: FreeText = ""
    by: ShortText = "user"
    waivers: list[Waiver] = Field(default_factory=list)


class GateExpire(BaseModel):
    interrupt_id: str | None = None
    kind: Literal["reminder", "expire"] = "expire"


class CodegenCompleted(BaseModel):
    constraints: ConstraintSchema
    plan: Plan
    cost: CostEstimate
    policy: PolicyResults
    risks: list[Risk] = Field(default_factory=list)
    tree_key: str = Field(description="Artifact-store key of the generated tree (content-addressed JSON bundle).")
    files: dict[str, str] = Field(default_factory=dict, description="path -> sha256 of the generated files.")


class RunCompleted(BaseModel):
    """A version ended, whichever way: completed, rejected, superseded by a next version, failed or stale."""

    version: int
    status: Literal["completed", "rejected", "superseded", "failed", "stale"]
    artifact_key: str | None = None
    git_commit: str | None = None
    diff: DiffSummary | None = None


#: Which payload travels on which subject.
PAYLOADS: dict[str, type[BaseModel]] = {
    Subjects.INTAKE_REQUESTED: IntakeRequested,
    Subjects.INTAKE_ANSWERED: IntakeAnswered,
    Subjects.INTAKE_COMPLETED: IntakeCompleted,
    Subjects.PLAN_REVISE: PlanRevise,
    Subjects.PLAN_PROPOSED: PlanProposed,
    Subjects.CRITIQUE_COMPLETED: CritiqueCompleted,
    Subjects.POLICY_EVALUATED: PolicyEvaluated,
    Subjects.GATE_DECIDED: GateDecided,
    Subjects.GATE_EXPIRE: GateExpire,
    Subjects.CODEGEN_COMPLETED: CodegenCompleted,
    Subjects.RUN_COMPLETED: RunCompleted,
}

def envelope_of(payload: type[BaseModel]) -> type[Envelope[Any]]:
    """The envelope model of a payload type, built once.

    Pydantic keeps parametrised generics in a weak cache: one no caller holds on to is collected
    and rebuilt on the next `Envelope[X]`, a schema build of milliseconds on every message."""
    model = _ENVELOPES.get(payload)
    if model is None:
        model = _ENVELOPES[payload] = Envelope[payload]  # type: ignore[valid-type]
    return model


_ENVELOPES: dict[type[BaseModel], type[Envelope[Any]]] = {}


def envelope_type(subject: str) -> type[Envelope[Any]]:
    """The concrete envelope model of a subject, for validation at the consumer."""
    return envelope_of(PAYLOADS[subject])
