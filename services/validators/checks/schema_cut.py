"""A warm provider's schema cut to the resource types a configuration names, for one Terraform run.

Every Terraform command asks its providers for their whole schema. The AWS provider's describes
some 1,500 resource and data source types: building that answer costs the provider about 0.5 s
of CPU and reading it costs Terraform about 1 s, whatever the configuration uses, so a one-resource
`terraform validate` against a warm provider took 1.4 s, and that schema was most of a generated
tree's `terraform test`.

So a warm run reaches its provider through a small gRPC relay in this process. It passes every
call through unchanged, except the schema request: that is answered from the provider's whole
schema, asked once per provider build and kept, less the resource, data source and ephemeral
resource types the configuration does not name (the provider's own block, its functions and its
capabilities stay). A type a configuration uses appears in its text as `<provider>_<name>` (a
block label, a reference, a mock, a `moved` address), and every such token is kept, so Terraform
sees the schema of everything it reads. A run that still misses one fails, and a failure on the
warm path is judged again on the cold path, against the provider's whole schema (see
`terraform_validate._warm_run`): the cut can make a passing run faster, never change a verdict.

The schema answer is cut at the protobuf wire level (its map fields' entries are kept or dropped
whole by their key), so the relay needs no generated code of the plugin protocol and serves its
versions 5 and 6 alike.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

#: The schema request of each plugin protocol version.
SCHEMA_METHODS = frozenset({"/tfplugin5.Provider/GetSchema", "/tfplugin6.Provider/GetProviderSchema"})
#: go-plugin's streams, which Terraform opens on every provider it attaches to.
_UNARY_STREAM = frozenset({"/plugin.GRPCStdio/StreamStdio"})
_STREAM_STREAM = frozenset({"/plugin.GRPCBroker/StartStream"})
#: GetProviderSchema.Response's maps of type name to schema, the same numbers in protocols 5 and 6:
#: resource_schemas, data_source_schemas, ephemeral_resource_schemas.
TYPE_MAPS = frozenset({2, 3, 8})
DIAGNOSTICS = 4
#: A schema answer is tens of megabytes; gRPC's default cap is 4 MiB.
_MAX_MESSAGE = 1 << 30
_OPTIONS = [("grpc.max_receive_message_length", _MAX_MESSAGE), ("grpc.max_send_message_length", _MAX_MESSAGE)]
#: Terraform calls a provider from up to `-parallelism` (10) walkers at once, beside two long-lived streams.
_WORKERS = 32
_LENGTH_DELIMITED = 2


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def wire_fields(buf: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """(field number, wire type, the field's whole encoding, its payload) of each top-level field."""
    i, end = 0, len(buf)
    while i < end:
        start = i
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        payload_at = i
        if wire == 0:
            _, i = _varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == _LENGTH_DELIMITED:
            length, payload_at = _varint(buf, i)
            i = payload_at + length
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if i > end:
            raise ValueError("truncated protobuf message")
        yield number, wire, buf[start:i], buf[payload_at:i]


def _entry_key(entry: bytes) -> str | None:
    """The string key (field 1) of a map entry's payload."""
    for number, wire, _, payload in wire_fields(entry):
        if number == 1 and wire == _LENGTH_DELIMITED:
            return payload.decode("utf-8", "replace")
    return None


def cut_schema(answer: bytes, keep: Callable[[str], bool]) -> bytes:
    """A GetProviderSchema answer without the types `keep` refuses; every other field as it was."""
    out = bytearray()
    for number, wire, whole, payload in wire_fields(answer):
        if number in TYPE_MAPS and wire == _LENGTH_DELIMITED and not keep(_entry_key(payload) or ""):
            continue
        out += whole
    return bytes(out)


def has_error(answer: bytes) -> bool:
    """Whether a GetProviderSchema answer carries an error diagnostic (field 4, severity ERROR = 1)."""
    for number, wire, _, payload in wire_fields(answer):
        if number == DIAGNOSTICS and wire == _LENGTH_DELIMITED:
            for field, kind, whole, _ in wire_fields(payload):
                if field == 1 and kind == 0 and _varint(whole, 1)[0] == 1:
                    return True
    return False


def named_types(provider: str, texts: Iterator[str] | list[str]) -> frozenset[str]:
    """Every `<provider>_<name>` token of the configuration's texts: the types it can use."""
    token = re.compile(rf"\b{re.escape(provider)}_[A-Za-z0-9_]+")
    return frozenset(m for text in texts for m in token.findall(text))


def _identity(data: bytes) -> bytes:
    return data


def _forwarded(context: grpc.ServicerContext) -> list[tuple[str, str | bytes]]:
    return [(k, v) for k, v in context.invocation_metadata()
            if not k.startswith((":", "grpc-")) and k != "user-agent"]


class _Relay(grpc.GenericRpcHandler):
    def __init__(self, channel: grpc.Channel, keep: frozenset[str], schemas: dict[str, bytes],
                 lock: threading.Lock) -> None:
        self.channel = channel
        self.keep = keep
        self.schemas = schemas
        self.lock = lock

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method: str = details.method  # type: ignore[attr-defined]
        if method in _UNARY_STREAM:
            return grpc.unary_stream_rpc_method_handler(self._unary_stream(method), _identity, _identity)
        if method in _STREAM_STREAM:
            return grpc.stream_stream_rpc_method_handler(self._stream_stream(method), _identity, _identity)
        if method in SCHEMA_METHODS:
            return grpc.unary_unary_rpc_method_handler(self._schema(method), _identity, _identity)
        return grpc.unary_unary_rpc_method_handler(self._unary(method), _identity, _identity)

    def _unary(self, method: str) -> Callable[[bytes, grpc.ServicerContext], bytes]:
        upstream = self.channel.unary_unary(method, request_serializer=_identity, response_deserializer=_identity)

        def relay(request: bytes, context: grpc.ServicerContext) -> bytes:
            try:
                return upstream(request, metadata=_forwarded(context))
            except grpc.RpcError as exc:
                context.abort(exc.code(), exc.details() or "")
                raise  # abort raises; this line is for the type checker

        return relay

    def _schema(self, method: str) -> Callable[[bytes, grpc.ServicerContext], bytes]:
        ask = self._unary(method)

        def answer(request: bytes, context: grpc.ServicerContext) -> bytes:
            with self.lock:  # the first of concurrent requests asks the provider; the rest wait for it
                whole = self.schemas.get(method)
                if whole is None:
                    whole = ask(request, context)
                    if not has_error(whole):  # a provider that could not say its schema is asked again
                        self.schemas[method] = whole
            return cut_schema(whole, self.keep.__contains__)

        return answer

    def _unary_stream(self, method: str) -> Callable[[bytes, grpc.ServicerContext], Iterator[bytes]]:
        upstream = self.channel.unary_stream(method, request_serializer=_identity, response_deserializer=_identity)

        def relay(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
            replies = upstream(request, metadata=_forwarded(context))
            context.add_callback(replies.cancel)
            with contextlib.suppress(grpc.RpcError):  # cancelled when Terraform or the relay ends it
                yield from replies

        return relay

    def _stream_stream(self, method: str) -> Callable[[Iterator[bytes], grpc.ServicerContext], Iterator[bytes]]:
        upstream = self.channel.stream_stream(method, request_serializer=_identity, response_deserializer=_identity)

        def relay(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
            replies = upstream(requests, metadata=_forwarded(context))
            context.add_callback(replies.cancel)
            with contextlib.suppress(grpc.RpcError):
                yield from replies

        return relay


class SchemaCache:
    """A provider build's whole schema answers, by request method (asked once, kept with the build)."""

    def __init__(self) -> None:
        self.answers: dict[str, bytes] = {}
        self.lock = threading.Lock()


@contextlib.contextmanager
def cut_relay(entry: dict[str, Any], keep: frozenset[str], cache: SchemaCache) -> Iterator[tuple[dict, Path]]:
    """A relay to the provider of this reattach `entry` for one run: (the entry that reaches the
    relay instead, the directory of its socket, which the run must see)."""
    addr = entry.get("Addr") or {}
    if addr.get("Network") != "unix" or not addr.get("String"):
        raise ValueError(f"not a unix socket provider address: {addr}")
    directory = Path(tempfile.mkdtemp(prefix="amp-tf-cut-"))
    socket = directory / "relay.sock"
    channel = grpc.insecure_channel(f"unix:{addr['String']}", options=_OPTIONS)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="amp-tf-cut"),
                         options=_OPTIONS)
    server.add_generic_rpc_handlers([_Relay(channel, keep, cache.answers, cache.lock)])
    try:
        if not server.add_insecure_port(f"unix:{socket}"):
            raise OSError(f"could not listen on {socket}")
        server.start()
        yield {**entry, "Addr": {"Network": "unix", "String": str(socket)}}, directory
    finally:
        server.stop(grace=None).wait(5)
        channel.close()
        shutil.rmtree(directory, ignore_errors=True)
