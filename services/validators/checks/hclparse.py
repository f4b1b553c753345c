"""The one way the checks parse HCL: python-hcl2 behind a single process-wide lock.

python-hcl2 parses with lark parsers built once and kept as module state, which is not safe to
share between threads. The checks run in a thread pool (and the service runs the plan checks
in another thread), so every caller must hold the same lock: one lock per checking module let
two parses interleave and return a corrupted document (a tfvars object read back as a string),
which the parse caches then kept.

Several checks read the same files (hcl2 every `.tf`, tf-interface and plan conformance those of
`infra/`, names the root variables and bootstrap), so `parse` keeps one cache of documents by
content for all of them, looked up and filled under the same lock: two checks asking for one file
at once parse it once. A file that does not parse is remembered too, with its error.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

_LOCK = threading.Lock()
#: Documents kept (most recently used); a generated tree has a few dozen HCL files.
CACHE_SIZE = 256
_cache: OrderedDict[str, tuple[dict[str, Any] | None, Exception | None]] = OrderedDict()


def _hcl2_loads(text: str) -> dict[str, Any]:
    # lazy: the HCL parser builds its grammar on import
    import hcl2

    return hcl2.loads(text)


def loads(text: str) -> dict[str, Any]:
    """python-hcl2's reading of one file, parsed afresh (raises what hcl2 raises on a file that does not parse)."""
    with _LOCK:
        return _hcl2_loads(text)


def parse(text: str) -> dict[str, Any]:
    """One file's document, parsed once and shared: callers read it and never change it."""
    with _LOCK:
        hit = _cache.get(text)
        if hit is None:
            try:
                hit = (_hcl2_loads(text), None)
            except Exception as exc:  # noqa: BLE001 - lark raises many types; re-raised to every caller
                hit = (None, exc)
            _cache[text] = hit
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        else:
            _cache.move_to_end(text)
    doc, error = hit
    if error is not None:
        raise error.with_traceback(None)  # its traceback would grow with every raise
    assert doc is not None
    return doc


def clear_cache() -> None:
    with _LOCK:
        _cache.clear()
