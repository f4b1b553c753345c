"""Tracing wiring without servers: which exporter the OTEL_* variables choose, how a step finds its
parent, and the one span per LangGraph node with what its model calls used."""

from __future__ import annotations

import asyncio
from typing import TypedDict

import pytest
from amp_contracts import Envelope, Event, IntakeAnswered, ProviderInfo
from amp_runtime import telemetry
from amp_runtime.providers import Accounting
from langgraph.graph import END, START, StateGraph
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import ValidationError


@pytest.mark.parametrize(("env", "expected"), [
    ({}, []),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, []),
    ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
    ({"OTEL_TRACES_EXPORTER": "otlp,console"}, ["otlp", "console"]),
])
def test_exporters_follow_the_standard_variables(env, expected) -> None:
    assert telemetry.exporters(env) == expected


def test_otlp_protocol_defaults_to_http_and_honours_the_traces_variable() -> None:
    assert telemetry.otlp_protocol({}) == "http/protobuf"
    assert telemetry.otlp_protocol({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}) == "grpc"
    assert telemetry.otlp_protocol({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                                    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}) == "http/protobuf"


def test_langsmith_needs_both_the_flag_and_a_key() -> None:
    assert telemetry.setup_langsmith({}) is False
    assert telemetry.setup_langsmith({"LANGCHAIN_TRACING_V2": "true"}) is False
    assert telemetry.setup_langsmith({"LANGCHAIN_API_KEY": "k"}) is False
    assert telemetry.setup_langsmith({"LANGCHAIN_TRACING_V2": "true", "LANGCHAIN_API_KEY": "k"}) is True


def _tracer() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_trace_id_of_a_traceparent() -> None:
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert telemetry.trace_id_of(tp) == "0af7651916cd43dd8448eb211c80319c"
    assert telemetry.trace_id_of(None) is None and telemetry.trace_id_of("garbage") is None


def test_a_step_continues_the_envelopes_trace_unless_the_active_span_already_belongs_to_it() -> None:
    provider, _ = _tracer()
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("publisher") as publisher:
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
    tp = carrier["traceparent"]
    # no active span (no telemetry middleware): the envelope's traceparent is the parent
    assert telemetry._parent(tp) is not None
    # the consume span of the same trace is active: it is the parent (nothing to override)
    from opentelemetry import trace
    with trace.use_span(publisher, end_on_exit=False):
        assert telemetry._parent(tp) is None
    # an unrelated active span (a message without trace headers): the envelope wins
    with tracer.start_as_current_span("unrelated"):
        assert telemetry._parent(tp) is not None


def test_headers_carry_the_messages_own_traceparent_else_the_active_spans() -> None:
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert telemetry.inject_headers({"Nats-Msg-Id": "x"}, tp) == {"Nats-Msg-Id": "x", "traceparent": tp}
    assert "traceparent" not in telemetry.inject_headers({})
    provider, _ = _tracer()
    with provider.get_tracer("t").start_as_current_span("s") as span:
        own = telemetry.inject_headers({})["traceparent"]
        assert telemetry.trace_id_of(own) == format(span.get_span_context().trace_id, "032x")
        assert telemetry.inject_headers({}, tp)["traceparent"] == tp


def test_the_traceparent_of_an_envelope_is_found_in_its_bytes() -> None:
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    env = Envelope[IntakeAnswered](project_id="p", decision_set_id="d", run_id="r", traceparent=tp,
                                   payload=IntakeAnswered())
    assert telemetry.traceparent_in(env.model_dump_json().encode()) == tp
    assert telemetry.traceparent_in(env.model_copy(update={"traceparent": None}).model_dump_json().encode()) is None
    assert telemetry.traceparent_in(b'{"events": []}') is None


class _S(TypedDict, total=False):
    n: int
    cards: list


async def test_one_span_per_langgraph_node_with_model_usage_and_pack() -> None:
    provider, exporter = _tracer()
    tracer = provider.get_tracer("t")
    accounting = Accounting()

    async def asks_a_model(state: _S) -> _S:
        accounting.add("ask", ProviderInfo(provider="anthropic", model="claude-x", input_tokens=120,
                                           output_tokens=30), 0.002)
        return {"n": state["n"] + 1, "cards": [{"prompt_pack_hash": "sha256:abc"}]}

    async def rules_only(state: _S) -> _S:
        return {"n": state["n"] * 2}

    g = StateGraph(_S)
    g.add_node("ask", asks_a_model)
    g.add_node("rules", rules_only)
    g.add_edge(START, "ask")
    g.add_edge("ask", "rules")
    g.add_edge("rules", END)
    graph = g.compile()
    with tracer.start_as_current_span("step") as step:
        out = await graph.ainvoke({"n": 1}, {"callbacks": [telemetry.NodeSpans("planner", accounting, tracer)]})
    assert out["n"] == 4
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"step", "planner.node.ask", "planner.node.rules"}
    ask, rules = spans["planner.node.ask"], spans["planner.node.rules"]
    for s in (ask, rules):
        assert s.parent is not None and s.parent.span_id == step.get_span_context().span_id
    assert ask.attributes["gen_ai.system"] == "anthropic"
    assert ask.attributes["gen_ai.request.model"] == "claude-x"
    assert ask.attributes["gen_ai.usage.input_tokens"] == 120
    assert ask.attributes["gen_ai.usage.output_tokens"] == 30
    assert ask.attributes["amp.prompt_pack_hash"] == "sha256:abc"
    assert rules.attributes["gen_ai.system"] == "deterministic"
    assert "gen_ai.usage.input_tokens" not in rules.attributes


def test_event_trace_id_is_optional_and_checked() -> None:
    base = {"type": "plan-update", "project_id": "p", "decision_set_id": "d", "run_id": "r", "node_name": "n"}
    assert Event.model_validate(base).trace_id is None
    assert Event.model_validate({**base, "trace_id": "0af7651916cd43dd8448eb211c80319c"}).trace_id
    with pytest.raises(ValidationError):
        Event.model_validate({**base, "trace_id": "not-a-trace"})


def test_the_protocol_picks_the_exporter(monkeypatch) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    grpc = telemetry._otlp_exporter("grpc")
    http = telemetry._otlp_exporter("http/protobuf")
    try:
        assert isinstance(grpc, GrpcExporter) and isinstance(http, HttpExporter)
        assert http._endpoint == "http://127.0.0.1:4317/v1/traces"  # the signal path is the exporter's to add
    finally:
        grpc.shutdown()
        http.shutdown()


def test_instrumentations_can_be_switched_off_by_the_contrib_variable() -> None:
    assert telemetry.disabled_instrumentations({}) == set()
    assert telemetry.disabled_instrumentations(
        {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": " asyncpg, Psycopg ,"}) == {"asyncpg", "psycopg"}


def test_transaction_control_statements_make_no_span_and_the_rest_follow_the_configured_sampler() -> None:
    from amp_runtime.telemetry import SkipTransactionControl
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
    from opentelemetry.trace import SpanKind

    def exported(inner) -> list[tuple[str, SpanKind]]:
        sink = InMemorySpanExporter()
        provider = TracerProvider(sampler=SkipTransactionControl(inner))
        provider.add_span_processor(SimpleSpanProcessor(sink))
        tracer = provider.get_tracer("test")
        for name, kind in (("BEGIN;", SpanKind.CLIENT), ("SAVEPOINT", SpanKind.CLIENT), ("SELECT", SpanKind.CLIENT),
                           ("RELEASE", SpanKind.CLIENT), ("COMMIT;", SpanKind.CLIENT), ("ROLLBACK;", SpanKind.CLIENT),
                           ("BEGIN;", SpanKind.INTERNAL)):
            with tracer.start_as_current_span(name, kind=kind):
                pass
        return [(s.name, s.kind) for s in sink.get_finished_spans()]

    assert exported(ALWAYS_ON) == [("SELECT", SpanKind.CLIENT), ("COMMIT;", SpanKind.CLIENT),
                                   ("ROLLBACK;", SpanKind.CLIENT), ("BEGIN;", SpanKind.INTERNAL)]
    assert exported(ALWAYS_OFF) == []


async def test_housekeeping_loops_run_with_the_instrumentation_off_and_leave_the_callers_context_alone() -> None:
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    seen: dict[str, bool] = {}

    async def tick(name: str) -> None:
        seen[name] = is_instrumentation_enabled()

    await telemetry.housekeeping_task(tick("relay"))
    await asyncio.create_task(tick("step"))
    assert seen == {"relay": False, "step": True}
    assert is_instrumentation_enabled()


def test_fastapi_makes_no_spans_of_its_own_in_the_gateway() -> None:
    """FastAPI's own telemetry would trace every request (and its dependencies, endpoint and
    serialisation) for any SDK provider; the gateway's server spans are the contrib
    instrumentation's, when exporting."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    options = telemetry.fastapi_options()
    if not options:
        pytest.skip("this FastAPI has no telemetry of its own")
    provider, exporter = _tracer()

    def app_with(config: dict) -> FastAPI:
        app = FastAPI(telemetry=config)

        @app.get("/thing")
        async def thing() -> dict:
            return {"ok": True}

        return app

    assert TestClient(app_with({"tracer_provider": provider})).get("/thing").status_code == 200
    assert exporter.get_finished_spans(), "FastAPI traces a request by default"
    exporter.clear()
    assert TestClient(app_with({**options["telemetry"], "tracer_provider": provider})).get("/thing").status_code == 200
    assert exporter.get_finished_spans() == ()
