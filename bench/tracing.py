"""What exporting traces costs: the plan round trip with OTLP export off, then on.

    python -m bench.tracing [--runs 30] [--protocol http/protobuf|grpc]

Two embedded stacks side by side, identical but for the OTEL_* variables: one has none
(nothing exported, nothing instrumented), the other exports every span over OTLP to a sink on
loopback that reads and discards what it is sent (an HTTP server for http/protobuf; for gRPC,
`grpc` itself). Both are warmed up on every scenario text, then `--runs` plan round trips
(POST constraints → `gate-waiting` pre-codegen on SSE) alternate between them, so that a change
of load on a shared machine weighs on both alike. The target is export-on within 10 % of
export-off at the median; the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .common import Api, bench_settings, scenario_texts


class HttpSink:
    """An OTLP/HTTP endpoint that accepts and counts export requests (what a collector costs the sender)."""

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.requests += 1
                sink.bytes += len(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class GrpcSink:
    """An OTLP/gRPC trace service that accepts every export."""

    def __init__(self) -> None:
        # lazy: gRPC only for the gRPC variant
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

        sink = self
        self.requests = 0
        self.bytes = 0

        class Service(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - the protocol's name
                sink.requests += 1
                sink.bytes += request.ByteSize()
                return trace_service_pb2.ExportTraceServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.stop(0)


async def _interleaved(stacks: list[Any], runs: int) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Warm both stacks up, then alternate one plan on each: a load change on a shared machine hits
    both sides alike instead of whichever ran second."""
    # lazy: the pipeline's helpers import the HTTP client, needed only once the stacks are up
    from . import memory, pipeline
    from .common import summary

    apis = [Api(s.gateway_url, timeout=120, token=s.token("bench")) for s in stacks]  # each stack its own issuer
    try:
        ctxs = [pipeline.Ctx(api=api, texts=scenario_texts()) for api in apis]
        for ctx in ctxs:
            await pipeline.warm_up(ctx)
        ms: list[list[float]] = [[], []]
        # CPU over the whole loop, not per plan: the exporting side encodes and sends its batches
        # in the background, some of it while the other side runs
        before = [memory.cpu_times(stack) for stack in stacks]
        for i in range(runs):
            for side in ((0, 1) if i % 2 == 0 else (1, 0)):
                pid = await apis[side].create_project(f"bench-tracing-{side}-{i}")
                ms[side].append((await pipeline.plan_once(apis[side], pid, ctxs[side].next_text())).ms)
        await asyncio.sleep(6)  # the batch span processor's last scheduled export (every 5 s)
        # each pair ran back to back: the median of their ratios is less moved by a drift of the
        # machine's load over the run than the ratio of the two medians
        paired = sorted(on / off for off, on in zip(ms[0], ms[1], strict=True))
        off, on = ({"runs": runs, "ms": summary(ms[side]),
                    "cpu_per_plan": memory.cpu_delta(before[side], memory.cpu_times(stacks[side]), runs)}
                   for side in (0, 1))
        return off, on, round(paired[len(paired) // 2], 3)
    finally:
        for api in apis:
            await api.close()


def _stack(env: dict[str, str]) -> tuple[Any, Path]:
    # lazy: the stack only when measuring
    from amp_cli.stack import Stack

    tmp = Path(tempfile.mkdtemp(prefix="amp-bench-tracing-"))
    tmp.chmod(0o755)
    # the bench's settings: its one user's write limit would stop a long run (429) halfway
    return Stack(bench_settings(tmp / "data"), env=env), tmp


def measure(runs: int, protocol: str = "http/protobuf", disabled: str = "") -> dict[str, Any]:
    sink = GrpcSink() if protocol == "grpc" else HttpSink()
    stacks = [_stack({"OTEL_TRACES_EXPORTER": "none"}),  # whatever the calling shell exports
              _stack({"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
                      "OTEL_TRACES_EXPORTER": "otlp", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": disabled})]
    try:
        for stack, _ in stacks:
            stack.start()
        off, on, paired = asyncio.run(_interleaved([stack for stack, _ in stacks], runs))
        exported = {"requests": sink.requests, "bytes": sink.bytes}
    finally:
        for stack, tmp in stacks:
            stack.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        sink.close()
    ratio = round(on["ms"]["p50"] / off["ms"]["p50"], 3)
    return {"runs": runs, "protocol": protocol, "disabled_instrumentations": disabled, "load_average": os.getloadavg(), "export_off": off,
            "export_on": on, "exported": exported, "ratio_p50_on_off": ratio,
            "paired_ratio_p50": paired,
            "target": "export on within 10 % of export off (ratio <= 1.10)", "met": ratio <= 1.10}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tracing", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--protocol", choices=("http/protobuf", "grpc"), default="http/protobuf")
    p.add_argument("--disable", default="", metavar="NAMES",
                   help="OTEL_PYTHON_DISABLED_INSTRUMENTATIONS of the exporting stack, e.g. asyncpg,psycopg")
    a = p.parse_args(argv)
    print(json.dumps(measure(a.runs, a.protocol, a.disable), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
