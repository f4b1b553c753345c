"""Which step failures are retried, and the redelivery backoff (pure, no servers)."""

from __future__ import annotations

import asyncpg
import pytest
from amp_contracts import ConflictError, IllegalTransition, NotFound, ProviderDown, RateLimited, ValidationFailed
from amp_runtime.retry import Failure, classify, redelivery_delay
from pydantic import BaseModel, ValidationError


class _M(BaseModel):
    x: int


def _validation_error() -> ValidationError:
    try:
        _M.model_validate({"x": "nope"})
    except ValidationError as e:
        return e
    raise AssertionError("unreachable")


class CircuitBreakerError(Exception):
    """Named like aiobreaker's: the runtime recognises it without importing the library."""


@pytest.mark.parametrize("error", [
    ProviderDown("down"), RateLimited("slow down"), ConflictError("raced"), TimeoutError(), ConnectionResetError(),
    asyncpg.SerializationError("serialise"), asyncpg.DeadlockDetectedError("deadlock"),
    asyncpg.CannotConnectNowError("starting up"), asyncpg.AdminShutdownError("restart"),
    CircuitBreakerError("open"),
])
def test_passing_faults_are_transient(error: BaseException) -> None:
    assert classify(error) is Failure.TRANSIENT


@pytest.mark.parametrize("error", [
    ValidationFailed("bad"), NotFound("gone"), IllegalTransition("finished"), _validation_error(),
])
def test_faults_of_the_message_are_permanent(error: BaseException) -> None:
    assert classify(error) is Failure.PERMANENT


def test_a_wrapped_transient_cause_is_transient_and_a_bug_is_unknown() -> None:
    wrapped = RuntimeError("step failed")
    wrapped.__cause__ = asyncpg.PostgresConnectionError("lost")
    assert classify(wrapped) is Failure.TRANSIENT
    assert classify(KeyError("bug")) is Failure.UNKNOWN


def test_redelivery_backoff_grows_is_capped_and_spans_a_minute_of_outage() -> None:
    delays = [redelivery_delay(n, base_s=2.0, cap_s=60.0, jitter=0.0) for n in range(1, 6)]
    assert delays == [2.0, 6.0, 18.0, 54.0, 60.0]
    assert sum(delays[:4]) >= 60.0  # the four redeliveries of five attempts outlast a minute's outage
    for _ in range(50):
        assert 1.6 <= redelivery_delay(1, 2.0, 60.0, 0.2) <= 2.4
