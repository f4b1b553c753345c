"""The gRPC relay of a warm Terraform run (see `schema_cut`): every call passes through to the
provider, except the schema request, answered from the provider's whole schema cut to the types
the run's configuration names, and validation requests the provider build had nothing to say
about before, answered with nothing again.

Imported when a warm run first needs it: gRPC adds some 9 MiB to a process, which an idle
validators process does without.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc

from .schema_cut import SchemaCache, cut_schema, has_error
from .unix_grpc import OPTIONS, serving

#: The schema request of each plugin protocol version.
SCHEMA_METHODS = frozenset({"/tfplugin5.Provider/GetSchema", "/tfplugin6.Provider/GetProviderSchema"})
#: go-plugin's streams, which Terraform opens on every provider it attaches to.
_UNARY_STREAM = frozenset({"/plugin.GRPCStdio/StreamStdio"})
_STREAM_STREAM = frozenset({"/plugin.GRPCBroker/StartStream"})
#: Validation calls of a resource, data source, ephemeral resource or list's configuration, in
#: protocols 5 and 6; their answer holds diagnostics only (field 1), so "nothing to say" is empty.
_VALIDATE = re.compile(r"^/tfplugin[56]\.Provider/Validate(?:ResourceType|Resource|DataSource|DataResource|"
                       r"EphemeralResource|ListResource)Config$")

#: Terraform calls a provider from up to `-parallelism` (10) walkers at once, beside two long-lived streams.
_WORKERS = 32


def _identity(data: bytes) -> bytes:
    return data


def _forwarded(context: grpc.ServicerContext) -> list[tuple[str, str | bytes]]:
    return [(k, v) for k, v in context.invocation_metadata()
            if not k.startswith((":", "grpc-")) and k != "user-agent"]


class _Relay(grpc.GenericRpcHandler):
    def __init__(self, channel: grpc.Channel, keep: frozenset[str], cache: SchemaCache) -> None:
        self.channel = channel
        self.keep = keep
        self.cache = cache
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}  # built once per method, not per call

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method: str = details.method  # type: ignore[attr-defined]
        handler = self._handlers.get(method)
        if handler is None:
            handler = self._handlers[method] = self._handler(method)
        return handler

    def _handler(self, method: str) -> grpc.RpcMethodHandler:
        if method in _UNARY_STREAM:
            return grpc.unary_stream_rpc_method_handler(self._unary_stream(method), _identity, _identity)
        if method in _STREAM_STREAM:
            return grpc.stream_stream_rpc_method_handler(self._stream_stream(method), _identity, _identity)
        if method in SCHEMA_METHODS:
            return grpc.unary_unary_rpc_method_handler(self._schema(method), _identity, _identity)
        if _VALIDATE.match(method):
            return grpc.unary_unary_rpc_method_handler(self._validate(method), _identity, _identity)
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
            with self.cache.lock:  # the first of concurrent requests asks the provider; the rest wait for it
                whole = self.cache.answers.get(method)
                if whole is None:
                    whole = ask(request, context)
                    if not has_error(whole):  # a provider that could not say its schema is asked again
                        self.cache.answers[method] = whole
            return cut_schema(whole, self.keep.__contains__)

        return answer

    def _validate(self, method: str) -> Callable[[bytes, grpc.ServicerContext], bytes]:
        ask = self._unary(method)

        def answer(request: bytes, context: grpc.ServicerContext) -> bytes:
            key = self.cache.request_key(method, request)
            if self.cache.silent(key):
                return b""
            reply = ask(request, context)
            if not reply:
                self.cache.remember_silent(key)
            return reply

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


@contextlib.contextmanager
def cut_relay(entry: dict[str, Any], keep: frozenset[str], cache: SchemaCache) -> Iterator[tuple[dict, Path]]:
    """A relay to the provider of this reattach `entry` for one run: (the entry that reaches the
    relay instead, the directory of its socket, which the run must see)."""
    addr = entry.get("Addr") or {}
    if addr.get("Network") != "unix" or not addr.get("String"):
        raise ValueError(f"not a unix socket provider address: {addr}")
    channel = grpc.insecure_channel(f"unix:{addr['String']}", options=OPTIONS)
    try:
        with serving(_Relay(channel, keep, cache), prefix="amp-tf-cut-", workers=_WORKERS) as (socket, directory):
            yield {**entry, "Addr": {"Network": "unix", "String": str(socket)}}, directory
    finally:
        channel.close()
