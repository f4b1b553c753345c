"""Canonical JSON and the step idempotency key."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


def _default(o: Any) -> Any:
    if isinstance(o, BaseModel):
        return o.model_dump(mode="json")
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def canonical_json(value: Any) -> str:
    """Key-sorted, whitespace-free JSON: equal inputs give equal bytes."""
    return json.dumps(value, default=_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def idempotency_key(thread_id: str, node: str, payload: Any) -> str:
    """`sha256(thread_id | node | canonical_json(input))`: one key per step of one input."""
    return sha256_hex(f"{thread_id}|{node}|{canonical_json(payload)}")
