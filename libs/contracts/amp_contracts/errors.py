"""The error model and the typed errors that map onto it.

Every layer raises one of these; the gateway turns them into HTTP responses and the bus
runtime into `run-error` events, each in exactly one place.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

ErrorCode = Literal[
    "validation_failed", "rate_limited", "provider_down", "conflict", "not_found",
    "budget_exceeded", "policy_blocked", "gate_closed", "payload_too_large", "unavailable", "internal",
    "unauthorized", "forbidden",
]


class ErrorBody(BaseModel):
    code: ErrorCode
    message: str
    retry_after_s: float | None = None
    run_id: str | None = None
    node_name: str | None = None
    details: list[dict] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class AmpError(Exception):
    """Base of every error the platform reports to a user."""

    code: ErrorCode = "internal"
    http_status: int = 500

    def __init__(self, message: str, *, node_name: str | None = None, run_id: str | None = None,
                 retry_after_s: float | None = None, details: list[dict] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node_name = node_name
        self.run_id = run_id
        self.retry_after_s = retry_after_s
        self.details = details

    def body(self) -> ErrorBody:
        return ErrorBody(code=self.code, message=self.message, retry_after_s=self.retry_after_s,
                         run_id=self.run_id, node_name=self.node_name, details=self.details)


class ValidationFailed(AmpError):
    code, http_status = "validation_failed", 422


class Unauthorized(AmpError):
    """No credentials, or credentials that do not check out (answered with `WWW-Authenticate: Bearer`)."""

    code, http_status = "unauthorized", 401


class Forbidden(AmpError):
    """A member of the project without the role the action needs (a non-member gets NotFound)."""

    code, http_status = "forbidden", 403


class NotFound(AmpError):
    code, http_status = "not_found", 404


class Conflict(AmpError):
    code, http_status = "conflict", 409


class IllegalTransition(Conflict):
    """A status change the decision-set lifecycle does not allow (a finished decision set is final)."""


class GateClosed(AmpError):
    """A decision or answer arrived for a gate that is not waiting (decided, stale or never opened)."""

    code, http_status = "gate_closed", 409


class PolicyBlocked(AmpError):
    """Approval of a plan whose policy failed, without a waiver for each failed rule."""

    code, http_status = "policy_blocked", 422


class RateLimited(AmpError):
    code, http_status = "rate_limited", 429


class ProviderDown(AmpError):
    code, http_status = "provider_down", 503


class Unavailable(AmpError):
    """The platform itself is short of a resource for a moment (no free database connection): retry after a pause."""

    code, http_status = "unavailable", 503


class IdempotencyKeyInUse(Conflict):
    """A request with this Idempotency-Key is still being processed: retry it, and get its response."""


class IdempotencyKeyReused(ValidationFailed):
    """The Idempotency-Key was used before with a different request body."""


class BudgetExceeded(AmpError):
    code, http_status = "budget_exceeded", 402


class PayloadTooLarge(AmpError):
    code, http_status = "payload_too_large", 413
