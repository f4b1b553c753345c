"""Trace context follows a decision set from step to step through the envelope."""

from __future__ import annotations

from amp_contracts import Envelope, GateExpire, IntakeRequested
from amp_runtime.cards import forward
from amp_runtime.telemetry import step_span
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def test_forwarded_envelope_carries_the_step_span_as_parent() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer_provider = trace.get_tracer_provider()
    trace._TRACER_PROVIDER = None  # noqa: SLF001 - the test installs its own provider
    trace._TRACER_PROVIDER_SET_ONCE._done = False  # noqa: SLF001
    trace.set_tracer_provider(provider)
    try:
        first = Envelope[IntakeRequested](project_id="p", decision_set_id="d", run_id="r",
                                          payload=IntakeRequested(text="x"))
        with step_span("intake", "intake_extract", first.traceparent):
            nxt = forward(first, GateExpire(kind="reminder"), key="k")
        assert nxt.traceparent and nxt.traceparent.startswith("00-")
        with step_span("planner", "planner", nxt.traceparent):
            pass
        spans = {s.name: s for s in exporter.get_finished_spans()}
        parent, child = spans["intake.intake_extract"], spans["planner.planner"]
        assert child.parent is not None and child.parent.span_id == parent.context.span_id
        assert child.context.trace_id == parent.context.trace_id
    finally:
        trace._TRACER_PROVIDER = tracer_provider  # noqa: SLF001
