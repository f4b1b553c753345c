"""Crash points for recovery tests: `AMP_CRASH_AT=<service>:<point>` kills the process there, once.

Points follow the step protocol: `before_commit` (work done, nothing durable), `after_commit`
(recorded, nothing published), `after_publish` (published, not acked). The marker file
`AMP_CRASH_MARKER` makes it fire once, so the restarted process gets past it.
"""

from __future__ import annotations

import os


def maybe_crash(service: str, point: str) -> None:
    if os.environ.get("AMP_CRASH_AT") != f"{service}:{point}":
        return
    marker = os.environ.get("AMP_CRASH_MARKER")
    if marker:
        if os.path.exists(marker):
            return
        with open(marker, "w") as f:
            f.write(point)
    os._exit(137)
