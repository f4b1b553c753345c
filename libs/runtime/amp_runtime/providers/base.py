"""What every provider shares: the call context, the typed result, the errors and the interfaces.

A provider answers one node's question (extract constraints, choose a pattern, critique a plan,
write code into a template seam). Implementations: `deterministic` (the rule-based code, no
model), `anthropic` (the Messages API through the `anthropic` SDK) and `openai` (an
OpenAI-compatible server such as Ollama or vLLM). Policy evaluation is never a provider's job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

from amp_contracts import AmpError, ConstraintSchema, Coverage, Plan, ProviderInfo, Question, Risk
from pydantic import BaseModel, Field

if TYPE_CHECKING:  # the intake's Extraction model lives with the rules that produce it
    from amp_domain.requirements.extraction import Extraction

    from .accounting import Accounting

T = TypeVar("T")

#: Node names, used for per-node configuration (AMP_PROVIDER_<NODE>, AMP_MODEL_<NODE>) and accounting.
INTAKE_EXTRACT = "intake_extract"
ADAPTIVE_QUESTIONS = "adaptive_questions"
PLANNER_CHOOSE = "planner_choose"
CRITIC_TECH = "critic_tech"
APPROVAL_FEEDBACK = "approval_feedback"
CODEGEN = "codegen"
NODES: tuple[str, ...] = (INTAKE_EXTRACT, ADAPTIVE_QUESTIONS, PLANNER_CHOOSE, CRITIC_TECH, APPROVAL_FEEDBACK, CODEGEN)

#: `region_allowed(cloud, region) -> bool`: the allow-list a model's regions are checked against.
RegionAllowed = Callable[[str | None, str], bool]
#: `guard(estimate_usd)`: raises `BudgetExceeded` before a model call that the budget cannot pay for.
BudgetGuard = Callable[[float], Awaitable[Any]]


@dataclass
class CallContext:
    """Who is asking: scopes quarantine keys, accounting and the budget check of one call."""

    project_id: str = "unscoped"
    decision_set_id: str | None = None
    accounting: Accounting | None = None
    budget: BudgetGuard | None = None


@dataclass
class Result(Generic[T]):
    """A validated answer and who gave it (the Reason Card's `provider` and `prompt_pack_hash`)."""

    value: T
    info: ProviderInfo = field(default_factory=ProviderInfo)
    usd: float = 0.0
    prompt_pack_hash: str | None = None
    notes: list[str] = field(default_factory=list)  # why a fallback answered, in plain words


class PatternChoice(BaseModel):
    """The planner's choice for one capability: always one of the candidates it was given."""

    pattern_id: str = Field(description="Exactly one of the candidate pattern ids, copied verbatim.")
    justification: str = Field(min_length=1, description="Why this candidate fits the constraints best.")


class Seam(BaseModel):
    """A place in a template where model-written code goes; `default` is the template's own body."""

    id: str
    path: str
    language: str = "python"
    instructions: str = ""
    signature: str = ""
    default: str = ""


# --------------------------------------------------------------------------- errors

class ProviderError(AmpError):
    """A provider could not give a usable answer; the message says why in plain words."""

    code, http_status = "provider_down", 503

    def __init__(self, message: str, *, provider: str = "", model: str | None = None,
                 quarantine_key: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.provider = provider
        self.model = model
        self.quarantine_key = quarantine_key


class ProviderOutputInvalid(ProviderError):
    """The model kept answering outside the contract; its answers are in the quarantine."""

    code, http_status = "validation_failed", 422


class ProviderUnavailable(ProviderError):
    """Every model configured for the node is down, rate limited or too slow."""

    code, http_status = "provider_down", 503


class ProviderRequestRejected(ProviderError):
    """The provider refused the request itself (bad key, unknown model, malformed request)."""

    code, http_status = "provider_down", 502


# --------------------------------------------------------------------------- interfaces

@runtime_checkable
class OrchestrationProvider(Protocol):
    """The model-assisted decisions of intake, planner, critics and the approval gate."""

    name: str

    async def extract(self, text: str, *, region_allowed: RegionAllowed | None = None,
                      ctx: CallContext | None = None) -> Result[Extraction]: ...

    async def next_questions(self, constraints: ConstraintSchema, coverage: Coverage, asked: set[str] | list[str],
                             *, ctx: CallContext | None = None) -> Result[list[Question]]: ...

    async def choose_pattern(self, capability: str, candidates: list[str], constraints: ConstraintSchema, *,
                             details: dict[str, str] | None = None,
                             ctx: CallContext | None = None) -> Result[PatternChoice]: ...

    async def critique(self, plan: Plan, constraints: ConstraintSchema, *,
                       ctx: CallContext | None = None) -> Result[list[Risk]]: ...

    async def parse_approval_comment(self, comment: str, current: ConstraintSchema, *,
                                     region_allowed: RegionAllowed | None = None,
                                     ctx: CallContext | None = None) -> Result[dict[str, Any]]: ...


@runtime_checkable
class CodeGenProvider(Protocol):
    """Code inside the templates' seams; everything around a seam stays template-rendered."""

    name: str

    async def fill_seams(self, seams: list[Seam], context: dict[str, Any], *,
                         ctx: CallContext | None = None) -> Result[dict[str, str]]: ...
