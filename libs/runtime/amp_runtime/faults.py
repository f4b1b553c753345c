"""Fault points for recovery tests and the chaos suite.

`AMP_CRASH_AT=<service>:<point>` kills the process there, once. Points follow the step protocol:
`before_commit` (the graph ran and its LangGraph checkpoint is written; the step is not recorded
in `agent_runs`), `after_commit` (recorded, nothing published), `after_publish` (published, not
acked); and `validators:after_git_commit` (the version's git commit is made, the graph's run not
yet checkpointed: the rerun builds the tree again and must arrive at the same commit). The marker file `AMP_CRASH_MARKER` makes it fire once, so
the restarted process gets past it.

`AMP_DELAY_AT=<service>:<seconds>` makes each step of the service take that much longer before it
commits (a slow model call or validator run): past `ack_wait`, only the step's heartbeat keeps
JetStream from delivering the message again.
"""

from __future__ import annotations

import asyncio
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


async def maybe_delay(service: str) -> None:
    name, _, seconds = os.environ.get("AMP_DELAY_AT", "").partition(":")
    if name == service and seconds:
        await asyncio.sleep(float(seconds))
