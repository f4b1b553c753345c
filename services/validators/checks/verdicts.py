"""Verdicts of the costly deterministic checks, remembered by exactly what they read.

`terraform test` and checkov cost seconds of CPU a tree, and their verdict depends only on the
files they are given and on the tool itself. A new version of a project often leaves those files
as they were (the same requirements submitted again, a change to the services' code or to the
budget): its infrastructure was judged already. So each such check keys its result by the tool's
identity and the path and SHA-256 of every file it reads, and answers a second identical request
from memory. Only verdicts the tool reached are kept (a pass, or for checkov its findings);
errors, timeouts and skips are never reused. Per process, bounded, least recently used first out:
replicas each keep their own, and a miss only costs the run it would have cost anyway.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from os import PathLike

from ..report import ToolResult

#: Verdicts kept per check (a tree's worth of input each; the results themselves are small).
SIZE = 512


def content_key(tool: str, files: Mapping[str, str] | Mapping[PathLike[str], str]) -> str:
    """A digest of the tool's identity and of every (path, content) it reads, in path order."""
    h = hashlib.sha256(tool.encode())
    for path, text in sorted((str(p), t) for p, t in files.items()):
        h.update(b"\0" + path.encode("utf-8", "surrogatepass") + b"\0")
        h.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
    return h.hexdigest()


class Verdicts:
    """One check's remembered results by `content_key`."""

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self._kept: OrderedDict[str, ToolResult] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> ToolResult | None:
        """A copy of the verdict for this key (its time reset: this run took none of it), or None."""
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            self._kept.move_to_end(key)
        return found.model_copy(deep=True, update={"duration_ms": 0})

    def put(self, key: str, result: ToolResult) -> None:
        with self._lock:
            self._kept[key] = result.model_copy(deep=True)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
