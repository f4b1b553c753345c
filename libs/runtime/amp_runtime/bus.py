"""JetStream wiring shared by every process: the stream, publishing with de-duplication ids."""

from __future__ import annotations

import asyncio
import time

import nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, BadRequestError, NoStreamResponseError, NotFoundError, ServiceUnavailableError

from .telemetry import inject_headers

SUBJECTS = ["amp.>"]
NOT_CLUSTERED = 10074  # JetStream: "replicas > 1 not supported in non-clustered mode"
#: JetStream: "no suitable peers for placement". A cluster that has just formed answers it until
#: every server has reported itself to the meta leader (a peer is "offline" until then).
NO_PEERS_YET = 10005
# What a cluster answers while a stream's group is still forming or electing a leader: no server
# holds the stream's subjects yet, or the meta leader knows of no running stream.
_NOT_READY = (NoStreamResponseError, NoRespondersError, NotFoundError, ServiceUnavailableError, NatsTimeout)
PUBLISH_RETRIES = (0.05, 0.1, 0.2, 0.4, 0.8)  # seconds; together they span a stream leader election


def stream_config(name: str, duplicate_window_s: float, replicas: int = 1) -> StreamConfig:
    """The one stream of the platform. `replicas` copies survive the loss of `replicas // 2` servers
    of a NATS cluster (3 on a cluster of three); a single server only takes 1."""
    return StreamConfig(name=name, subjects=SUBJECTS, storage=StorageType.FILE, retention=RetentionPolicy.LIMITS,
                        discard=DiscardPolicy.OLD, duplicate_window=duplicate_window_s, max_age=30 * 24 * 3600.0,
                        allow_direct=True, num_replicas=replicas)


async def ensure_stream(js: JetStreamContext, name: str, duplicate_window_s: float = 120.0, replicas: int = 1,
                        deadline_s: float = 30.0) -> None:
    """Create the stream, or bring an existing one to this configuration (idempotent), and return
    once it takes messages.

    An existing stream takes a new replica count in place (JetStream moves it to that many servers).
    A cluster whose JetStream group has no leader yet (it just started, or lost one) times out or
    answers "unavailable", and one whose servers have not all reported in yet finds no peers to
    place the copies on; the request is made again until `deadline_s`.
    """
    cfg = stream_config(name, duplicate_window_s, replicas)
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            await _create_or_update(js, cfg)
            break
        except (NatsTimeout, NoRespondersError, APIError) as e:
            if not _forming(e) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    await wait_for_stream(js, name, replicas, max(1.0, deadline - time.monotonic()))


def _forming(e: Exception) -> bool:
    """Whether a cluster answered as one still forming: no meta leader yet, or no peers for every copy."""
    if isinstance(e, APIError) and not isinstance(e, ServiceUnavailableError):
        return e.err_code == NO_PEERS_YET
    return True  # a timeout, no responders, or "unavailable"


async def _create_or_update(js: JetStreamContext, cfg: StreamConfig) -> None:
    try:
        try:
            await js.add_stream(cfg)
        except BadRequestError as e:
            if e.err_code == NO_PEERS_YET:  # a new stream with nowhere to go yet, not an existing one
                raise
            await js.update_stream(cfg)
    except APIError as e:
        if (cfg.num_replicas or 1) > 1 and e.err_code == NOT_CLUSTERED:
            raise RuntimeError(f"stream {cfg.name}: AMP_STREAM_REPLICAS={cfg.num_replicas} needs a NATS cluster with "
                               f"at least {cfg.num_replicas} JetStream servers; this server is not clustered "
                               f"({e.description})") from e
        raise


async def wait_for_stream(js: JetStreamContext, name: str, replicas: int = 1, deadline_s: float = 30.0) -> None:
    """Return once the stream answers with a leader and its `replicas` copies, each caught up with it.

    A cluster accepts a new stream (or a new replica count) before the group that holds it has
    formed; a process that published at once would be told "no responders" or "stream not found".
    A copy is counted once the leader reports it current and online: on a cluster whose routes are
    still settling, a listed copy may not yet hear from the leader. A single server's stream is
    ready when created, so this is one request there.
    """
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            info = await js.stream_info(name)
            cluster = info.cluster
            if cluster is None or (cluster.leader and sum(
                    1 for r in cluster.replicas or [] if r.current and not r.offline) >= replicas - 1):
                return
        except _NOT_READY:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"stream {name} has no leader with {replicas} replica(s) after {deadline_s:.0f} s")
        await asyncio.sleep(0.1)


async def connect(servers: str | list[str], name: str) -> nats.NATS:
    """Connect to one server or to any of a cluster's (the client then learns the others)."""
    return await nats.connect(servers, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5)


async def publish(js: JetStreamContext, subject: str, body: bytes, msg_id: str, headers: dict[str, str] | None = None,
                  timeout: float | None = None, traceparent: str | None = None) -> bool:
    """Publish once in effect: JetStream drops a repeat of `msg_id` inside the duplicate window.

    The message's headers carry the trace context (the active span's, else `traceparent`), where
    the consumer's telemetry middleware picks it up. Returns True when the server stored the
    message, False when it was a duplicate.

    A stream that has no leader for a moment (an election in a cluster) answers "no responders" at
    once; the same message is sent again a few times over about a second and a half, which the
    `msg_id` makes safe. Anything longer is an outage, left to the caller's retry policy.
    """
    hdrs = inject_headers({"Nats-Msg-Id": msg_id, **(headers or {})}, traceparent)
    for pause in PUBLISH_RETRIES:
        try:
            return not (await js.publish(subject, body, headers=hdrs, timeout=timeout)).duplicate
        except NoStreamResponseError:
            await asyncio.sleep(pause)
    return not (await js.publish(subject, body, headers=hdrs, timeout=timeout)).duplicate
