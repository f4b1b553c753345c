"""Which failures of a step are worth another delivery, and how long to wait before it.

A transient failure (a provider outage or rate limit, a lost database or bus connection, a lock
or serialisation conflict, a timeout) says nothing about the message: the same step succeeds once
the world recovers, so it is redelivered with a growing delay that spans an outage of a minute or
more. A permanent one (the message fails validation, a contract or lifecycle rule refuses it, a
typed error the platform raises on purpose) fails the same way every time, so it goes to the
dead-letter subject at once instead of spending deliveries. Anything else (a bug, most likely) is
retried until `max_deliver`, then dead-lettered.
"""

from __future__ import annotations

import random
from enum import StrEnum

import asyncpg
from amp_contracts import AmpError, ConflictError, IllegalTransition, ProviderDown, RateLimited
from pydantic import ValidationError


class Failure(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


_TRANSIENT_PG = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.SerializationError,
                 asyncpg.DeadlockDetectedError, asyncpg.LockNotAvailableError, asyncpg.CannotConnectNowError,
                 asyncpg.TooManyConnectionsError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
                 asyncpg.QueryCanceledError)


def _transient_by_name(e: BaseException) -> bool:
    """Errors of libraries the runtime does not import itself (nats-py, aiobreaker, psycopg, httpx)."""
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & {"CircuitBreakerError", "NoServersError", "ConnectionClosedError", "OperationalError",
                         "TransportError", "NoRespondersError", "SlowConsumerError", "PoolTimeout"}) \
        or (type(e).__module__.startswith("nats") and "Timeout" in type(e).__name__)


def classify(e: BaseException) -> Failure:
    if isinstance(e, (ProviderDown, RateLimited)):
        return Failure.TRANSIENT
    if isinstance(e, ConflictError) and not isinstance(e, IllegalTransition):
        return Failure.TRANSIENT  # an optimistic-lock race: the next delivery reads the new row
    if isinstance(e, (AmpError, ValidationError)):
        return Failure.PERMANENT
    if isinstance(e, _TRANSIENT_PG) or isinstance(e, (TimeoutError, ConnectionError)):
        return Failure.TRANSIENT
    if _transient_by_name(e) or (e.__cause__ is not None and classify(e.__cause__) is Failure.TRANSIENT):
        return Failure.TRANSIENT
    return Failure.UNKNOWN


def redelivery_delay(delivered: int, base_s: float = 2.0, cap_s: float = 60.0, jitter: float = 0.2) -> float:
    """Seconds before delivery `delivered + 1`: base, 3·base, 9·base, ... capped, ± `jitter` so that
    the many steps an outage failed together do not all come back in the same instant."""
    delay = min(cap_s, base_s * 3 ** max(0, delivered - 1))
    return delay * (1 - jitter + 2 * jitter * random.random())
