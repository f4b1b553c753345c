"""Verdicts of the deterministic checks, remembered by exactly what they read.

`terraform test` and checkov cost seconds of CPU a tree, mypy, actionlint and `terraform fmt` a
few tenths each, and each verdict depends only on the files the tool is given and on the tool
itself. A new version of a project often leaves those files as they were (the same requirements
submitted again, a change to the budget, to the infrastructure alone or to the services alone):
they were judged already. So each such check keys its result by the tool's identity and the path
and SHA-256 of every file it reads, and answers a second identical request from memory. Only
verdicts the tool reached are kept (a pass, or the findings of a fail); errors, timeouts and
skips are never reused. Per process, bounded, least recently used first out: replicas each keep
their own, and a miss only costs the run it would have cost anyway.

The generated tests are not among them: they run the tree's code, which may read any file of it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from os import PathLike
from typing import Generic, TypeVar

from ..report import ToolResult

V = TypeVar("V")

#: Verdicts kept per check (a tree's worth of input each; the results themselves are small).
SIZE = 512
#: The statuses of a verdict the tool reached.
REACHED = frozenset({"pass", "fail"})


def content_key(tool: str, files: Mapping[str, str] | Mapping[PathLike[str], str]) -> str:
    """A digest of the tool's identity and of every (path, content) it reads, in path order."""
    h = hashlib.sha256(tool.encode())
    for path, text in sorted((str(p), t) for p, t in files.items()):
        h.update(b"\0" + path.encode("utf-8", "surrogatepass") + b"\0")
        h.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
    return h.hexdigest()


class Memo(Generic[V]):
    """Values by key, bounded, least recently used first out; safe across the checks' threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._kept[key] = value
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


class Verdicts(Memo[ToolResult]):
    """One check's remembered results by `content_key`, handed in and out as copies."""

    def __init__(self, size: int = SIZE) -> None:
        super().__init__(size)

    def get(self, key: str) -> ToolResult | None:
        """A copy of the verdict for this key (its time reset: this run took none of it), or None."""
        found = super().get(key)
        return None if found is None else found.model_copy(deep=True, update={"duration_ms": 0})

    def put(self, key: str, value: ToolResult) -> None:
        super().put(key, value.model_copy(deep=True))


def remembered(verdicts: Verdicts, key: str, run: Callable[[], ToolResult],
               keep: Collection[str] = REACHED) -> ToolResult:
    """The verdict kept under `key`, or else `run()`'s, kept when its status is one of `keep`."""
    if (known := verdicts.get(key)) is not None:
        return known
    result = run()
    if result.status in keep:
        verdicts.put(key, result)
    return result


def binary_key(path: str) -> tuple[str, int, int, int]:
    """What identifies an installed binary: its real path, inode, size and modification time
    (a replaced binary is another tool)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    return real, st.st_ino, st.st_size, st.st_mtime_ns


def program_key(name: str, path: str | None = None) -> str:
    """`binary_key` of the program `name` found on `path`, or that there is none: for a tool whose
    verdict depends on whether a helper is installed (actionlint runs pyflakes where it finds one)."""
    found = shutil.which(name, path=path)
    return f"{name}: {binary_key(found) if found else None}"
