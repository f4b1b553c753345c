"""The one way the checks parse HCL: python-hcl2 behind a single process-wide lock.

python-hcl2 parses with lark parsers built once and kept as module state, which is not safe to
share between threads. The checks run in a thread pool (and the service runs the plan checks
in another thread), so every caller must hold the same lock: one lock per checking module let
two parses interleave and return a corrupted document (a tfvars object read back as a string),
which the parse caches then kept.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.Lock()


def loads(text: str) -> dict[str, Any]:
    """python-hcl2's reading of one file (raises what hcl2 raises on a file that does not parse)."""
    # lazy: the HCL parser builds its grammar on import
    import hcl2

    with _LOCK:
        return hcl2.loads(text)
