"""What every provider shares: the question (`Ask`), the call context, the typed result and the errors.

A node asks one typed question: "which constraints does this text state?", "which of these
patterns?", "what code goes in this seam?". The node's service owns the question: its prompt
pack, the Pydantic model the answer must validate against, a check only code can make (a
pattern id must be a candidate, a region must exist), and the rule-based answer the platform
gives without a model. The providers here only know how to put any such question to a model,
or to the rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from amp_contracts import AmpError, ProviderInfo
from pydantic import BaseModel

if TYPE_CHECKING:
    from .accounting import Accounting

T = TypeVar("T")

#: `region_allowed(cloud, region) -> bool`: the allow-list a model's regions are checked against.
RegionAllowed = Callable[[str | None, str], bool]
#: `guard(estimate_usd)`: raises `BudgetExceeded` before a model call that the budget cannot pay for.
BudgetGuard = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class Ask(Generic[T]):
    """One typed question of a node.

    `call` is the model call's name (`amp_contracts.MODEL_CALLS`): its configuration key, its
    prompt pack, its accounting row and its quarantine prefix. `check(parsed)` turns a schema-valid answer into
    the value or raises `OutputRejected` with words the model can act on. `rules()` is the
    deterministic answer: what the platform says without a model, and the fallback when every
    model is down (never for a call that writes code).
    """

    call: str
    output: type[BaseModel]
    prompt: str
    check: Callable[[Any], T]
    rules: Callable[[], T]
    reference: str = ""


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
