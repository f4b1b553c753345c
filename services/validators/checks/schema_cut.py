"""A warm provider's schema cut to the resource types a configuration names, for one Terraform run.

Every Terraform command asks its providers for their whole schema. The AWS provider's describes
some 1,500 resource and data source types: building that answer costs the provider about 0.5 s
of CPU and reading it costs Terraform about 1 s, whatever the configuration uses, so a one-resource
`terraform validate` against a warm provider took 1.4 s, and that schema was most of a generated
tree's `terraform test`.

So a warm run reaches its provider through a small gRPC relay in this process (`schema_relay`).
It passes every call through unchanged, except the schema request: that is answered from the provider's whole
schema, asked once per provider build and kept, less the resource, data source and ephemeral
resource types the configuration does not name (the provider's own block, its functions and its
capabilities stay). A type a configuration uses appears in its text as `<provider>_<name>` (a
block label, a reference, a mock, a `moved` address), and every such token is kept, so Terraform
sees the schema of everything it reads. A run that still misses one fails, and a failure on the
warm path is judged again on the cold path, against the provider's whole schema (see
`terraform_validate._warm_run`): the cut can make a passing run faster, never change a verdict.

A generated tree's `terraform test` also asks its provider to validate each resource's and data
source's configuration once per run block (325 calls for the fraud scenario's tree, 205 different,
of which 137 are the same for every project of that text). Validation comes before the provider is
configured and judges only what the request carries (the type and its configuration), so a request
the build answered with no diagnostic at all (an empty answer) is answered the same by the relay
from then on; an answer with any diagnostic is never kept, so it is asked of the provider each time.

This module cuts the schema answer at the protobuf wire level (its map fields' entries are kept
or dropped whole by their key), so the relay needs no generated code of the plugin protocol and
serves its versions 5 and 6 alike.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator

#: GetProviderSchema.Response's maps of type name to schema, the same numbers in protocols 5 and 6:
#: resource_schemas, data_source_schemas, ephemeral_resource_schemas.
TYPE_MAPS = frozenset({2, 3, 8})
DIAGNOSTICS = 4
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


#: Validation requests a provider build answered with no diagnostic, kept per build (a 20-byte key each,
#: about 150 bytes with the dictionary's own).
SILENT_MAX = 16384


class SchemaCache:
    """What a provider build answered that does not change: its whole schema answers, by request
    method (asked once, kept with the build), and the validation requests it had nothing to say
    about (`silent`)."""

    def __init__(self) -> None:
        self.answers: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self._silent: OrderedDict[bytes, None] = OrderedDict()
        self._silent_lock = threading.Lock()  # not `lock`, which a first schema request holds while the provider answers

    @staticmethod
    def request_key(method: str, request: bytes) -> bytes:
        return hashlib.blake2b(method.encode() + b"\0" + request, digest_size=20).digest()

    def silent(self, key: bytes) -> bool:
        """Whether the build answered this request with no diagnostic before."""
        with self._silent_lock:
            if key not in self._silent:
                return False
            self._silent.move_to_end(key)
            return True

    def remember_silent(self, key: bytes) -> None:
        with self._silent_lock:
            self._silent[key] = None
            if len(self._silent) > SILENT_MAX:
                self._silent.popitem(last=False)
