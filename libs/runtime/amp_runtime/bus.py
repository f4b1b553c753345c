"""JetStream wiring shared by every process: the stream, publishing with de-duplication ids."""

from __future__ import annotations

import nats
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, BadRequestError

from .telemetry import inject_headers

SUBJECTS = ["amp.>"]
NOT_CLUSTERED = 10074  # JetStream: "replicas > 1 not supported in non-clustered mode"


def stream_config(name: str, duplicate_window_s: float, replicas: int = 1) -> StreamConfig:
    """The one stream of the platform. `replicas` copies survive the loss of `replicas // 2` servers
    of a NATS cluster (3 on a cluster of three); a single server only takes 1."""
    return StreamConfig(name=name, subjects=SUBJECTS, storage=StorageType.FILE, retention=RetentionPolicy.LIMITS,
                        discard=DiscardPolicy.OLD, duplicate_window=duplicate_window_s, max_age=30 * 24 * 3600.0,
                        allow_direct=True, num_replicas=replicas)


async def ensure_stream(js: JetStreamContext, name: str, duplicate_window_s: float = 120.0, replicas: int = 1) -> None:
    """Create the stream, or bring an existing one to this configuration (idempotent).

    An existing stream takes a new replica count in place (JetStream moves it to that many servers).
    """
    cfg = stream_config(name, duplicate_window_s, replicas)
    try:
        try:
            await js.add_stream(cfg)
        except BadRequestError:
            await js.update_stream(cfg)
    except APIError as e:
        if replicas > 1 and e.err_code == NOT_CLUSTERED:
            raise RuntimeError(f"stream {name}: AMP_STREAM_REPLICAS={replicas} needs a NATS cluster with at least "
                               f"{replicas} JetStream servers; this server is not clustered ({e.description})") from e
        raise


async def connect(servers: str | list[str], name: str) -> nats.NATS:
    """Connect to one server or to any of a cluster's (the client then learns the others)."""
    return await nats.connect(servers, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5)


async def publish(js: JetStreamContext, subject: str, body: bytes, msg_id: str, headers: dict[str, str] | None = None,
                  timeout: float | None = None, traceparent: str | None = None) -> bool:
    """Publish once in effect: JetStream drops a repeat of `msg_id` inside the duplicate window.

    The message's headers carry the trace context (the active span's, else `traceparent`), where
    the consumer's telemetry middleware picks it up. Returns True when the server stored the
    message, False when it was a duplicate.
    """
    ack = await js.publish(subject, body, headers=inject_headers({"Nats-Msg-Id": msg_id, **(headers or {})}, traceparent),
                           timeout=timeout)
    return not bool(ack.duplicate)
