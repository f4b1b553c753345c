"""Tracing and structured logs, correlated by project, decision set, run and node.

One decision-set version is one trace: the gateway's request, every bus hop and every agent
step. Every envelope carries the W3C `traceparent` of the step that published it (in its body,
and in the NATS message headers where FastStream's telemetry middleware reads it), and the next
step's span is its child. Commands on an existing decision set (answers, approval, resume)
continue the trace recorded on its row, linked to the HTTP request that carried them.

Export is configured by the standard OTEL_* variables alone (OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_EXPORTER_OTLP_PROTOCOL `http/protobuf` or `grpc`, OTEL_TRACES_EXPORTER, OTEL_TRACES_SAMPLER,
OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES). With none of them set nothing is exported and
nothing is instrumented; spans are still created, so events and logs carry trace ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import json
import logging
import os
import re
from collections.abc import Coroutine, Iterator, Mapping
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
TRACER = "amp"
log = logging.getLogger("amp.telemetry")

_state: dict[str, Any] = {"exporting": False}

#: Correlation ids of what this task is doing (a request, a step), added to every log line it writes.
_log_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("amp_log_context", default=None)


def bind_log_context(**ids: Any) -> contextvars.Token:
    """Add ids (request_id, user_id, project_id, thread_id…) to this task's log lines from now on."""
    return _log_context.set({**(_log_context.get() or {}), **{k: v for k, v in ids.items() if v is not None}})


def log_context() -> dict[str, Any]:
    """The correlation ids bound so far in this task."""
    return dict(_log_context.get() or {})


def reset_log_context(token: contextvars.Token) -> None:
    _log_context.reset(token)


def exporters(env: Mapping[str, str] | None = None) -> list[str]:
    """The span exporters the OTEL_* variables ask for: `otlp`, `console`, or none.

    An OTLP endpoint alone turns OTLP on (the specification's default exporter);
    OTEL_TRACES_EXPORTER=none turns everything off whatever else is set.
    """
    e = os.environ if env is None else env
    names = [n.strip().lower() for n in e.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if "none" in names:
        return []
    if names:
        return [n for n in names if n in ("otlp", "console")]
    if e.get("OTEL_EXPORTER_OTLP_ENDPOINT") or e.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return ["otlp"]
    return []


def otlp_protocol(env: Mapping[str, str] | None = None) -> str:
    e = os.environ if env is None else env
    return (e.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or e.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf").strip().lower()


def exporting() -> bool:
    """True once `setup_tracing` installed an exporter in this process."""
    return bool(_state["exporting"])


def setup_tracing(service: str, env: Mapping[str, str] | None = None) -> Any:
    """Install the SDK's tracer provider for this process and, when exporting, the instrumentations.

    The service name is `amp-<service>` unless OTEL_SERVICE_NAME says otherwise (a deployment with
    one service per container sets it there; `amp up` does not pass it on to its processes).
    """
    # lazy: only serving processes install the SDK
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    e = os.environ if env is None else env
    attrs = {"service.namespace": "amp", "amp.service": service}
    if not e.get("OTEL_SERVICE_NAME"):
        attrs["service.name"] = f"amp-{service}"
    resource = Resource.create(attrs)
    # the sampler OTEL_TRACES_SAMPLER chooses (the SDK reads it), with the no-op statements left out
    configured = TracerProvider(shutdown_on_exit=False).sampler  # read only for its sampler: no exit hook
    provider = TracerProvider(resource=resource, sampler=SkipTransactionControl(configured))
    chosen = exporters(e)
    for name in chosen:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter() if name == "console"
                                                       else _otlp_exporter(otlp_protocol(e))))
    trace.set_tracer_provider(provider)
    _state["exporting"] = bool(chosen)
    if chosen:
        _instrument(provider)
    setup_langsmith(e)
    return provider


class SkipTransactionControl:
    """A sampler: the configured one, but no span for `BEGIN`, `SAVEPOINT` or `RELEASE`.

    The asyncpg instrumentation makes a span of every statement. Opening a transaction or a
    savepoint costs a round trip and says nothing an operator needs (its time shows as the gap
    before the first statement), yet it was one span in seven of a plan round trip, and span
    count is what exporting costs. `COMMIT` and `ROLLBACK` keep their spans: a commit's wait for
    the WAL flush is a real cost of a step."""

    SKIPPED = frozenset({"BEGIN", "BEGIN;", "SAVEPOINT", "RELEASE"})

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                      attributes: Any = None, links: Any = None, trace_state: Any = None) -> Any:
        if kind is trace.SpanKind.CLIENT and name in self.SKIPPED:
            # lazy: the SDK is loaded only by a process that sets tracing up
            from opentelemetry.sdk.trace.sampling import Decision, SamplingResult

            return SamplingResult(Decision.DROP)
        return self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"SkipTransactionControl{{{self.inner.get_description()}}}"


def _otlp_exporter(protocol: str) -> Any:
    """The OTLP exporter of the protocol; both read their endpoint, headers and timeout from OTEL_*."""
    if protocol == "grpc":
        # lazy: gRPC is loaded only by a process that exports over it
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    # lazy: only an exporting process loads the exporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter()


def disabled_instrumentations(env: Mapping[str, str] | None = None) -> set[str]:
    """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS, the contrib packages' own switch (`asyncpg,psycopg`
    keeps the database queries out of the traces, most of their spans)."""
    e = os.environ if env is None else env
    return {n.strip().lower() for n in e.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",") if n.strip()}


def _instrument(provider: Any) -> None:
    """The contrib instrumentations: the database drivers (asyncpg ours, psycopg the checkpointer's)
    and httpx (the OpenAI-compatible provider). FastAPI is instrumented where the gateway's app is built."""
    # lazy: instrumentation is loaded only when spans are exported
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    off = disabled_instrumentations()
    for name, inst in (("asyncpg", AsyncPGInstrumentor()), ("psycopg", PsycopgInstrumentor()),
                       ("httpx", HTTPXClientInstrumentor())):
        if name not in off and not inst.is_instrumented_by_opentelemetry:
            inst.instrument(tracer_provider=provider)


def setup_langsmith(env: Mapping[str, str] | None = None) -> bool:
    """LangSmith traces the graphs when LANGCHAIN_TRACING_V2 is on and LANGCHAIN_API_KEY is set.

    LangChain reads those variables itself; without a key a switched-on flag would only produce
    failed uploads and warnings, so it is switched off here (the key itself is never logged).
    """
    e = os.environ if env is None else env
    on = e.get("LANGCHAIN_TRACING_V2", "").lower() in ("1", "true", "yes")
    has_key = bool(e.get("LANGCHAIN_API_KEY") or e.get("LANGSMITH_API_KEY"))
    if on and not has_key:
        log.warning("LANGCHAIN_TRACING_V2 is set without LANGCHAIN_API_KEY: LangSmith tracing stays off")
        if env is None:
            os.environ["LANGCHAIN_TRACING_V2"] = "false"
    return on and has_key


def broker_middlewares() -> list[Any]:
    """FastStream's OpenTelemetry middleware (publish and consume spans on NATS), when exporting."""
    if not exporting():
        return []
    # lazy: the middleware pulls in FastStream's telemetry only for an exporting process
    from faststream.nats.opentelemetry import NatsTelemetryMiddleware

    return [NatsTelemetryMiddleware(tracer_provider=trace.get_tracer_provider())]


def fastapi_options() -> dict[str, Any]:
    """`FastAPI(...)` arguments that turn off FastAPI's own OpenTelemetry (`telemetry=`, in FastAPI
    releases that have it), whatever this process exports.

    FastAPI's own telemetry makes a server span and spans of dependency resolution, the endpoint
    and serialisation for every request as soon as an SDK tracer provider is installed, which
    `setup_tracing` always does. Exporting, the gateway's server spans come from the
    contrib instrumentation (`instrument_fastapi`; FastAPI then stands aside on its own); not
    exporting, those spans went nowhere and cost about a fourteenth of the gateway's CPU per plan
    round trip. The commands' own spans (and the trace ids events carry) do not depend on them."""
    # lazy: FastAPI is the gateway's only
    from fastapi import FastAPI

    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}


def instrument_fastapi(app: Any) -> None:
    """Server spans for every request of the gateway, when exporting (probes and scrapes left out)."""
    if not exporting() or "fastapi" in disabled_instrumentations():
        return
    # lazy: only an exporting gateway loads the instrumentation
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # no span per ASGI message: an SSE stream would otherwise add one per frame and ping
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,metrics", exclude_spans=["receive", "send"],
                                       tracer_provider=trace.get_tracer_provider())


def housekeeping_task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
    """Run a background loop (the outbox relay, sweeps, gauges, the webhook sender) with the
    contrib instrumentation off.

    These loops query the database every second in every process whether or not anything is
    happening; traced, each tick was two root spans (a SELECT, a COMMIT) in traces of their own
    that no operator follows, sixteen a second from an idle platform and most of what it exported.
    What a loop does for a decision set (a relayed message, an expired gate) still carries that
    set's trace: the relay sends the traceparent recorded with the message, and the platform's own
    spans are not instrumentation.
    """
    ctx = contextvars.copy_context()
    ctx.run(otel_context.attach, otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
    return asyncio.create_task(coro, context=ctx)


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def current_trace_id() -> str | None:
    """The trace id of the active span (32 hex digits), what events carry for an operator to look up."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def trace_id_of(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def inject_headers(headers: dict[str, str], traceparent: str | None = None) -> dict[str, str]:
    """The trace context as NATS headers: the message's own `traceparent` when it has one (a message
    sent after its transaction, or by the outbox relay, keeps the span that wrote it as its parent),
    else the active span's."""
    if traceparent:
        headers["traceparent"] = traceparent
    else:
        _propagator.inject(headers)
    return headers


_TRACEPARENT = re.compile(rb'"traceparent":"(00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})"')


def traceparent_in(body: bytes) -> str | None:
    """The `traceparent` of an envelope's JSON, found without parsing the whole message."""
    m = _TRACEPARENT.search(body[:4096])
    return m.group(1).decode() if m else None


def _parent(traceparent: str | None) -> otel_context.Context | None:
    """The parent of a step: the active span when it belongs to the envelope's trace (FastStream's
    consume span, itself a child of the publisher), else the envelope's own traceparent."""
    if not traceparent:
        return None
    current = trace.get_current_span().get_span_context()
    if current.is_valid and format(current.trace_id, "032x") == trace_id_of(traceparent):
        return None
    return _propagator.extract({"traceparent": traceparent})


@contextlib.contextmanager
def step_span(service: str, node: str, traceparent: str | None, **attrs: Any) -> Iterator[trace.Span]:
    tracer = trace.get_tracer(TRACER)
    ids = bind_log_context(service=service, node_name=node, **attrs)
    try:
        with tracer.start_as_current_span(f"{service}.{node}", context=_parent(traceparent),
                                          attributes={"amp.service": service, "amp.node": node,
                                                      **{f"amp.{k}": str(v) for k, v in attrs.items()
                                                         if v is not None}}) as span:
            yield span
    finally:
        reset_log_context(ids)


@contextlib.contextmanager
def continue_trace(name: str, traceparent: str | None, **attrs: Any) -> Iterator[trace.Span]:
    """A span in the trace `traceparent` names (a decision set's), linked to the active one (the
    HTTP request that asked for it), so one decision set stays one trace across requests."""
    tracer = trace.get_tracer(TRACER)
    here = trace.get_current_span().get_span_context()
    parent = _propagator.extract({"traceparent": traceparent}) if traceparent else None
    links = [trace.Link(here)] if parent is not None and here.is_valid else None
    with tracer.start_as_current_span(name, context=parent, links=links,
                                      attributes={f"amp.{k}": str(v) for k, v in attrs.items()}) as span:
        yield span


class NodeSpans(BaseCallbackHandler):
    """A LangChain callback that opens one span per LangGraph node, with what the node's model calls
    used (provider, model, tokens) and the prompt pack hash its cards name.

    LangGraph reports each node as a chain run whose parent is the graph's run; the node's usage is
    what its call context's accounting gained while it ran.
    """

    run_inline = True  # called in the node's own task, in order, not in a thread pool

    def __init__(self, service: str, accounting: Any = None, tracer: trace.Tracer | None = None) -> None:
        self.service = service
        self.accounting = accounting
        self.tracer = tracer or trace.get_tracer(TRACER)
        self.parent = otel_context.get_current()
        self.root: Any = None
        self.open: dict[Any, tuple[trace.Span, int]] = {}

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any, parent_run_id: Any = None,
                       metadata: dict | None = None, name: str | None = None, **_: Any) -> None:
        if parent_run_id is None:
            self.root = run_id
            return
        node = (metadata or {}).get("langgraph_node")
        if parent_run_id != self.root or not node:
            return
        span = self.tracer.start_span(f"{self.service}.node.{node}", context=self.parent,
                                                   attributes={"amp.service": self.service, "amp.node": str(node),
                                                               "langgraph.node": str(node)})
        self.open[run_id] = (span, len(self.accounting.records) if self.accounting is not None else 0)

    def on_chain_end(self, outputs: Any, *, run_id: Any, **_: Any) -> None:
        self._close(run_id, outputs, None)

    def on_chain_error(self, error: BaseException, *, run_id: Any, **_: Any) -> None:
        self._close(run_id, None, error)

    def _close(self, run_id: Any, outputs: Any, error: BaseException | None) -> None:
        opened = self.open.pop(run_id, None)
        if opened is None:
            return
        span, first = opened
        records = self.accounting.records[first:] if self.accounting is not None else []
        if records:
            last = records[-1].info
            span.set_attribute("gen_ai.system", last.provider)
            if last.model:
                span.set_attribute("gen_ai.request.model", last.model)
            span.set_attribute("gen_ai.usage.input_tokens", sum(r.info.input_tokens for r in records))
            span.set_attribute("gen_ai.usage.output_tokens", sum(r.info.output_tokens for r in records))
            span.set_attribute("amp.llm.calls", len(records))
            span.set_attribute("amp.llm.usd", round(sum(r.usd for r in records), 6))
        else:
            span.set_attribute("gen_ai.system", "deterministic")
        pack = _pack_hash(outputs)
        if pack:
            span.set_attribute("amp.prompt_pack_hash", pack)
        if error is not None and not _is_pause(error):
            span.record_exception(error)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
        span.end()


def node_callbacks(service: str, accounting: Any = None) -> list[Any]:
    """The callbacks a graph run gets: node spans when spans are exported, nothing otherwise."""
    return [NodeSpans(service, accounting)] if exporting() else []


def _pack_hash(outputs: Any) -> str | None:
    cards = outputs.get("cards") if isinstance(outputs, dict) else None
    for card in cards or []:
        h = card.get("prompt_pack_hash") if isinstance(card, dict) else getattr(card, "prompt_pack_hash", None)
        if h:
            return str(h)
    return None


def _is_pause(error: BaseException) -> bool:
    """LangGraph's interrupt (a gate waiting) travels as an exception; it is no error."""
    return type(error).__name__ in ("GraphInterrupt", "NodeInterrupt", "ParentCommand")


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
