"""What a service needs at run time, wired once in `bootstrap` and passed down (never imported globally)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from .settings import Settings


@dataclass
class Deps:
    """What an agent needs, wired once in `bootstrap` and passed down (never imported globally)."""

    settings: Settings
    pool: asyncpg.Pool
    nc: NatsClient
    js: JetStreamContext
    checkpointer: Any
    artifacts: Any
    providers: Any = None
    reader: Any = None  # a Reader over `pool` (what handlers read through)
    git: Any = None  # a GitStore: every project's history on the shared stores
    sent_marks: Any = None  # an outbox.SentMarks: published outbox rows are marked sent in the background
    extras: dict[str, Any] = field(default_factory=dict)
