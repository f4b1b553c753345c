"""Tracing and structured logs, correlated by project, decision set, run and node.

Spans follow a decision set across services: every envelope carries the W3C `traceparent` of the
step that published it, and the next step's span is its child. Exporters are the OpenTelemetry
SDK's own, chosen by the standard OTEL_* variables; without them spans are created but dropped.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
from collections.abc import Iterator
from typing import Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
TRACER = "amp"
#: Correlation ids of what this task is doing (a request, a step), added to every log line it writes.
_log_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("amp_log_context", default=None)


def bind_log_context(**ids: Any) -> contextvars.Token:
    """Add ids (request_id, user_id, project_id, thread_id…) to this task's log lines from now on."""
    return _log_context.set({**(_log_context.get() or {}), **{k: v for k, v in ids.items() if v is not None}})


def reset_log_context(token: contextvars.Token) -> None:
    _log_context.reset(token)


def setup_tracing(service: str) -> None:
    """Install an SDK tracer provider for this process (console export with OTEL_TRACES_EXPORTER=console)."""
    # lazy: only serving processes install the SDK
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": f"amp-{service}"}))
    if os.environ.get("OTEL_TRACES_EXPORTER") == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


@contextlib.contextmanager
def step_span(service: str, node: str, traceparent: str | None, **attrs: Any) -> Iterator[trace.Span]:
    parent = _propagator.extract({"traceparent": traceparent}) if traceparent else None
    tracer = trace.get_tracer(TRACER)
    ids = bind_log_context(service=service, node_name=node, **attrs)
    try:
        with tracer.start_as_current_span(f"{service}.{node}", context=parent,
                                          attributes={k: str(v) for k, v in attrs.items() if v is not None}) as span:
            yield span
    finally:
        reset_log_context(ids)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the correlation ids a step put on the record."""

    FIELDS = ("request_id", "user_id", "project_id", "decision_set_id", "run_id", "thread_id", "node_name", "service")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": self.formatTime(record), "level": record.levelname, "logger": record.name,
                               "message": record.getMessage()}
        bound = _log_context.get() or {}
        for f in self.FIELDS:
            if hasattr(record, f):
                out[f] = getattr(record, f)
            elif f in bound:
                out[f] = bound[f]
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            out["trace_id"] = format(span.trace_id, "032x")
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(level: str, service: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("faststream").setLevel("WARNING")
