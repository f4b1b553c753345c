"""Circuit breakers per provider and model, and what counts as an outage.

Only outages trip a breaker: 429, 5xx (529 overloaded included), timeouts and lost
connections. A `retry-after` is honoured: a short one is waited out and the call repeated
once on the same model; a longer one holds the breaker open for exactly that long, so the
next calls go straight to the fallback instead of hammering a model that asked for a pause.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from aiobreaker import CircuitBreaker, CircuitBreakerError, CircuitBreakerState
from opentelemetry import trace

from ..metrics import BREAKER_OPEN, LLM_ERRORS

T = TypeVar("T")


class Outage(Exception):
    """The model could not answer now (as opposed to answering badly)."""

    def __init__(self, kind: str, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # rate_limited | overloaded | server_error | timeout | connection
        self.status = status
        self.retry_after = retry_after


class Unavailable(Exception):
    """A model is out of service for this call (breaker open, or the outage just happened)."""

    def __init__(self, provider: str, model: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(f"{provider}:{model} unavailable: {reason}")
        self.provider = provider
        self.model = model
        self.reason = reason
        self.retry_after = retry_after


def parse_retry_after(headers: Mapping[str, str] | Any) -> float | None:
    """Seconds from `retry-after-ms`, `retry-after` (seconds or an HTTP date); None when absent."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


@dataclass
class Gate:
    """One breaker for one (provider, model)."""

    provider: str
    model: str
    fail_max: int
    reset_s: float
    breaker: CircuitBreaker = field(init=False)

    def __post_init__(self) -> None:
        # Predicates, not classes: only outages count as failures of the model.
        self.breaker = CircuitBreaker(fail_max=self.fail_max, timeout_duration=timedelta(seconds=self.reset_s),
                                      exclude=[lambda e: not isinstance(e, Outage)],
                                      name=f"{self.provider}:{self.model}")

    @property
    def is_open(self) -> bool:
        return self.breaker.current_state == CircuitBreakerState.OPEN

    def hold(self, seconds: float) -> None:
        """Open the breaker for `seconds` (a server's retry-after)."""
        self.breaker.timeout_duration = timedelta(seconds=max(seconds, 0.001))
        self.breaker.open()

    async def call(self, fn: Callable[[], Awaitable[T]], *, wait_max_s: float) -> T:
        """`fn()` through the breaker; raises `Unavailable` when the model cannot answer.

        One client span per model call (whatever HTTP library the provider's SDK uses), in the
        node's trace; the HTTP client's own span, where instrumented, is its child.
        """
        tracer = trace.get_tracer("amp")
        with tracer.start_as_current_span(f"chat {self.model}", kind=trace.SpanKind.CLIENT, attributes={
                "gen_ai.operation.name": "chat", "gen_ai.system": self.provider, "gen_ai.request.model": self.model}):
            return await self._call(fn, wait_max_s=wait_max_s)

    async def _call(self, fn: Callable[[], Awaitable[T]], *, wait_max_s: float) -> T:
        waited = False
        while True:
            try:
                out = await self.breaker.call_async(fn)
            except CircuitBreakerError as e:
                cause = e.__cause__
                self._count(cause.kind if isinstance(cause, Outage) else "breaker_open")
                if isinstance(cause, Outage) and cause.retry_after:
                    self.hold(cause.retry_after)
                reason = str(cause) if isinstance(cause, Outage) else "circuit breaker open after repeated failures"
                raise Unavailable(self.provider, self.model, reason,
                                  cause.retry_after if isinstance(cause, Outage) else None) from e
            except Outage as o:
                self._count(o.kind)
                if o.retry_after is not None and o.retry_after <= wait_max_s and not waited:
                    waited = True
                    await asyncio.sleep(o.retry_after)
                    continue
                if o.retry_after:
                    self.hold(o.retry_after)
                raise Unavailable(self.provider, self.model, str(o), o.retry_after) from o
            if self.breaker.timeout_duration != timedelta(seconds=self.reset_s):
                self.breaker.timeout_duration = timedelta(seconds=self.reset_s)
            BREAKER_OPEN.labels(self.provider, self.model).set(0)
            return out

    def _count(self, code: str) -> None:
        LLM_ERRORS.labels(self.provider, self.model, code).inc()
        BREAKER_OPEN.labels(self.provider, self.model).set(1 if self.is_open else 0)


class BreakerRegistry:
    """The process's breakers, one per provider and model, shared by every node that uses them."""

    def __init__(self, fail_max: int = 3, reset_s: float = 30.0) -> None:
        self.fail_max = fail_max
        self.reset_s = reset_s
        self._gates: dict[tuple[str, str], Gate] = {}

    def gate(self, provider: str, model: str) -> Gate:
        key = (provider, model)
        if key not in self._gates:
            self._gates[key] = Gate(provider, model, self.fail_max, self.reset_s)
        return self._gates[key]

    def states(self) -> dict[str, str]:
        return {f"{p}:{m}": g.breaker.current_state.name for (p, m), g in self._gates.items()}
