"""A provider known by its exported schema only, standing in for a build that is not at hand.

`terraform validate` needs each provider's build, and a machine without registry access has only
those an operator put in its filesystem mirror (the AWS provider's, here): the Terraform of every
Google Cloud and Azure plan went unchecked. Yet most of what `validate` and the plan tests judge is
judged by Terraform itself against the provider's schema: resource and data source types, argument
and block names, types, required arguments, block counts, references to another resource's
attributes. A schema is a file: `terraform providers schema -json`, exported once on a machine that
can install the provider, kept under `AMP_TF_PROVIDER_SCHEMAS` as
`<host>/<namespace>/<name>/<version>.json` (the mirror's layout, the version a file name).

Terraform attaches to this stand-in (`TF_REATTACH_PROVIDERS`, plugin protocol 6) as it does to a
warm provider. It answers the schema request from the file and has nothing to say to the
provider's own validation calls; a plan test mocks the provider, so nothing else is asked. What
only the build knows (allowed values, arguments that conflict, formats) is not judged, and the
report's version names the schema a verdict rests on.

The answer is encoded at the protobuf wire level, as `schema_cut` reads it, so no generated code
of the plugin protocol is needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .schema_cut import cut_schema

#: `<host>/<namespace>/<name>/<version>.json` under the schemas directory.
_VERSION_FILE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.]+)?\.json$")
_LENGTH_DELIMITED, _VARINT = 2, 0
#: Schema.NestedBlock.NestingMode and Schema.Object.NestingMode of the plugin protocol.
_NESTING = {"single": 1, "list": 2, "set": 3, "map": 4, "group": 5}
_DESCRIPTION_KIND = {"plain": 0, "markdown": 1}
#: Calls whose answer is diagnostics only, and "nothing to say" is an empty message.
_SILENT = frozenset({
    "/tfplugin6.Provider/ValidateProviderConfig", "/tfplugin6.Provider/ValidateResourceConfig",
    "/tfplugin6.Provider/ValidateDataResourceConfig", "/tfplugin6.Provider/ValidateEphemeralResourceConfig",
    "/tfplugin6.Provider/ValidateListResourceConfig", "/tfplugin6.Provider/StopProvider",
    "/plugin.GRPCController/Shutdown",
})
_SCHEMA_METHOD = "/tfplugin6.Provider/GetProviderSchema"
_HEALTH = "/grpc.health.v1.Health/Check"


class SchemaError(ValueError):
    """A schema file that is not a provider's exported schema."""


def schema_files(root: Path) -> dict[str, dict[str, Path]]:
    """Every exported schema under `root`: provider address -> version -> file."""
    found: dict[str, dict[str, Path]] = {}
    if not root.is_dir():
        return found
    for path in sorted(root.glob("*/*/*/*.json")):
        if _VERSION_FILE.match(path.name):
            address = "/".join(path.parent.relative_to(root).parts)
            found.setdefault(address, {})[path.name.removesuffix(".json")] = path
    return found


def provider_schema(document: dict[str, Any], address: str) -> dict[str, Any]:
    """The provider's own entry of an exported document: `terraform providers schema -json`
    (which holds every provider of the configuration it ran in), or that entry alone."""
    if "provider_schemas" in document:
        entries = document["provider_schemas"]
        entry = entries.get(address) or (entries[next(iter(entries))] if len(entries) == 1 else None)
        if entry is None:
            raise SchemaError(f"no schema of {address} in the document (it has {', '.join(sorted(entries))})")
        return dict(entry)
    if "resource_schemas" in document or "provider" in document:
        return document
    raise SchemaError("neither `terraform providers schema -json` output nor one provider's entry of it")


def exported_files(document: dict[str, Any], locked: list[tuple[str, str]]) -> dict[str, bytes]:
    """The files of `schema_files`'s layout (`<address>/<version>.json`, one per provider) from a
    `terraform providers schema -json` document and the (address, version) its lock file holds."""
    out: dict[str, bytes] = {}
    for address, version in locked:
        entry = {"format_version": document.get("format_version", "1.0"),
                 "provider_schemas": {address: provider_schema(document, address)}}
        out[f"{address}/{version}.json"] = json.dumps(entry, separators=(",", ":")).encode()
    return out


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # int64 fields: a negative number is its two's complement
    while True:
        byte, value = value & 0x7F, value >> 7
        if not value:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _number(number: int, value: int) -> bytes:
    return _varint(number << 3 | _VARINT) + _varint(value) if value else b""


def _text(number: int, value: str) -> bytes:
    return _field(number, value.encode()) if value else b""


def _attribute(name: str, spec: dict[str, Any]) -> bytes:
    out = _text(1, name)
    if "type" in spec:  # cty's JSON type, as Terraform writes and reads it
        out += _field(2, json.dumps(spec["type"], separators=(",", ":")).encode())
    out += _text(3, spec.get("description", ""))
    for number, key in ((4, "required"), (5, "optional"), (6, "computed"), (7, "sensitive")):
        out += _number(number, int(bool(spec.get(key))))
    out += _number(8, _DESCRIPTION_KIND.get(spec.get("description_kind", "plain"), 0))
    out += _number(9, int(bool(spec.get("deprecated"))))
    if nested := spec.get("nested_type"):
        body = b"".join(_field(1, _attribute(n, a)) for n, a in sorted(nested.get("attributes", {}).items()))
        body += _number(3, _NESTING.get(nested.get("nesting_mode", "single"), 1))
        out += _field(10, body)
    out += _number(11, int(bool(spec.get("write_only"))))
    return out


def _block(spec: dict[str, Any]) -> bytes:
    out = _number(1, int(spec.get("version", 0)))
    out += b"".join(_field(2, _attribute(n, a)) for n, a in sorted(spec.get("attributes", {}).items()))
    for name, nested in sorted(spec.get("block_types", {}).items()):
        mode = nested.get("nesting_mode", "list")
        if mode not in _NESTING:
            raise SchemaError(f"block {name}: unknown nesting mode {mode!r}")
        out += _field(3, _text(1, name) + _field(2, _block(nested.get("block", {}))) + _number(3, _NESTING[mode])
                      + _number(4, int(nested.get("min_items", 0))) + _number(5, int(nested.get("max_items", 0))))
    out += _text(4, spec.get("description", ""))
    out += _number(5, _DESCRIPTION_KIND.get(spec.get("description_kind", "plain"), 0))
    out += _number(6, int(bool(spec.get("deprecated"))))
    return out


def _schema(spec: dict[str, Any]) -> bytes:
    return _number(1, int(spec.get("version", 0))) + _field(2, _block(spec.get("block", {})))


def schema_answer(entry: dict[str, Any]) -> bytes:
    """GetProviderSchema.Response (protocol 6) for one provider's exported schema entry."""
    try:
        out = _field(1, _schema(entry.get("provider") or {"block": {}}))
        for number, key in ((2, "resource_schemas"), (3, "data_source_schemas"), (8, "ephemeral_resource_schemas")):
            for name, spec in sorted((entry.get(key) or {}).items()):
                out += _field(number, _text(1, name) + _field(2, _schema(spec)))
    except (AttributeError, TypeError) as exc:
        raise SchemaError(f"not a provider schema: {exc}") from exc
    return out + _field(6, _number(1, 1))  # server_capabilities: plan_destroy


_answers: dict[tuple[str, int, int], bytes] = {}
_answers_lock = threading.Lock()


def load_answer(path: Path, address: str) -> bytes:
    """The schema answer of an exported schema file, kept per file state: encoded once per process."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _answers_lock:
        if key in _answers:
            return _answers[key]
    raw = path.read_bytes()
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise SchemaError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise SchemaError(f"{path}: not a JSON object")
    try:
        answer = schema_answer(provider_schema(document, address))
    except SchemaError as exc:
        raise SchemaError(f"{path}: {exc}") from exc
    with _answers_lock:
        _answers[key] = answer
    return answer


@contextlib.contextmanager
def serve(answer: bytes, keep: frozenset[str] | None = None) -> Iterator[tuple[dict[str, Any], Path]]:
    """A stand-in provider answering with `answer` (cut to `keep`'s types when given) for one run:
    (its reattach entry, the directory of its socket, which the run must see)."""
    # lazy: gRPC is loaded by the first run that needs a stand-in, not by an idle validators process
    import grpc

    # lazy: the same (unix_grpc imports gRPC)
    from .unix_grpc import serving

    schema = answer if keep is None else cut_schema(answer, keep.__contains__)

    def _same(data: bytes) -> bytes:
        return data

    def _empty(_request: bytes, _context: grpc.ServicerContext) -> bytes:
        return b""

    def _ended(_request: object, _context: grpc.ServicerContext) -> Iterator[bytes]:
        return iter(())  # go-plugin's stdio and broker streams: the stand-in has nothing to send

    handlers = {
        _SCHEMA_METHOD: grpc.unary_unary_rpc_method_handler(lambda _r, _c: schema, _same, _same),
        _HEALTH: grpc.unary_unary_rpc_method_handler(lambda _r, _c: _number(1, 1), _same, _same),  # SERVING
        "/plugin.GRPCStdio/StreamStdio": grpc.unary_stream_rpc_method_handler(_ended, _same, _same),
        "/plugin.GRPCBroker/StartStream": grpc.stream_stream_rpc_method_handler(_ended, _same, _same),
        **{m: grpc.unary_unary_rpc_method_handler(_empty, _same, _same) for m in _SILENT},
    }

    class _StandIn(grpc.GenericRpcHandler):
        def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
            return handlers.get(details.method)  # type: ignore[attr-defined]  # anything else: UNIMPLEMENTED

    # Terraform calls from up to `-parallelism` (10) walkers at once, in each of the roots judged side
    # by side; a call left queued behind them is one Terraform may cancel when another fails.
    with serving(_StandIn(), prefix="amp-tf-schema-", workers=32) as (socket, directory):
        # Pid: this process; `reattach_env` gives the run a pid it sees alive instead.
        yield {"Protocol": "grpc", "ProtocolVersion": 6, "Pid": os.getpid(), "Test": True,
               "Addr": {"Network": "unix", "String": str(socket)}}, directory
