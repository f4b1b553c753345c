"""Repository-relative paths: one normal form, and refusal of anything that could leave the repository.

Generated trees, uploaded edits and git trees all carry paths that end up as files on disk,
so every writer normalises them here first.
"""

from __future__ import annotations

from pathlib import PurePosixPath


class UnsafePath(ValueError):
    """A generated path tried to leave the sandbox (absolute, `..`, or empty)."""


def safe_relpath(path: str) -> PurePosixPath:
    """Normalise a tree path and refuse anything that could escape the sandbox root."""
    p = PurePosixPath(path.replace("\\", "/"))
    if p.is_absolute() or not p.parts or any(part in ("..", "") for part in p.parts) or str(p) == ".":
        raise UnsafePath(path)
    return p
