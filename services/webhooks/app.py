"""The webhooks service: a subscriber on the bus, like any analytics consumer; not a step of the pipeline.

amp.events.>  (EventBatch)  ──▶ record: one delivery row per (subscription, event)  ──ack
                                  (failing: redelivered up to max_deliver, then amp.dlq.webhooks ──ack)
(sender loop, every replica) ──▶ claim due rows (SKIP LOCKED) ──▶ signed POST ──▶ delivered | retry later | failed

Replicas share one durable pull consumer, so each batch is recorded by one of them (and a
redelivered batch records nothing new); they share the due rows through the database.

The consumer fetches what arrived within `webhook_fetch_wait_s` (1 s; up to `FETCH_MAX` messages) at
once: one handler call and one subscription lookup per project for all of them, where a pull, a
handler call and a lookup per message cost more than recording them (most events have no
subscription). A webhook is therefore recorded up to that long after its event; each message is
still acked, retried or dead-lettered on its own. An idle service asks again after each wait.

Each batch is recorded in a span of the trace its message carries (the run's), so an operator
following a run sees its webhooks recorded; a fetch opens no trace of its own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from amp_contracts import AmpError, EventBatch, Subjects
from amp_domain.webhooks import TargetPolicy
from amp_runtime.agent import delivered_message, service_broker
from amp_runtime.bootstrap import open_deps
from amp_runtime.retry import Failure, classify, redelivery_delay
from amp_runtime.settings import Settings
from amp_runtime.telemetry import housekeeping_task, step_span
from faststream import AckPolicy, FastStream
from faststream.nats import ConsumerConfig, JStream, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.aio.msg import Msg
from pydantic import ValidationError

from .delivery import NODE, Subscriptions, Webhooks, dead_letter, record, run_sender
from .sender import Sender

SERVICE = "webhooks"
DURABLE = "webhooks-events"
#: One fetch ends with this many messages, or when `webhook_fetch_wait_s` is over.
FETCH_MAX = 100
log = logging.getLogger("amp.webhooks")


async def on_fetched(svc: Webhooks, msgs: list[Msg]) -> None:
    """The event batches of one fetch, in order, each recorded on its own.

    They share the fetch's subscription lookups: every event in it was published before the
    lookups, so a subscription created after them would not have wanted any of these events
    (a subscription gets the events that happened after it was created)."""
    subscriptions = Subscriptions(svc.pool)
    for raw in msgs:
        with step_span(SERVICE, NODE, (raw.headers or {}).get("traceparent")):
            await on_batch(svc, raw, subscriptions)


async def on_batch(svc: Webhooks, raw: Msg, subscriptions: Subscriptions) -> None:
    """Record a batch's deliveries, then ack.

    A failing batch is redelivered with backoff up to `max_deliver` (the same policy as the
    agents' steps); then, or at once for a message that can never succeed (not an EventBatch, a
    permanent error), it is dead-lettered (table `dead_letters`, `amp.dlq.webhooks`) and acked,
    and the service keeps serving. One event whose webhook cannot be built is skipped inside
    `record`, so it never takes the batch's other events with it.
    """
    delivered = raw.metadata.num_delivered if raw.metadata else 1
    try:
        batch = EventBatch.model_validate_json(raw.data)
    except ValidationError as e:
        await dead_letter(svc, raw.subject, raw.data, f"message is not an EventBatch: {str(e)[:300]}",
                          "validation_failed")
        await raw.ack()
        return
    try:
        new = await record(svc, batch, subscriptions)
    except Exception as e:  # noqa: BLE001 - redelivered, then dead-lettered; nothing was committed, or all of it
        kind = classify(e)
        final = kind is Failure.PERMANENT or delivered >= svc.settings.max_deliver
        log.warning("recording webhook deliveries failed (delivery %s, %s%s): %s", delivered, kind,
                    ", final" if final else "", e, exc_info=kind is not Failure.TRANSIENT)
        if not final:
            await raw.nak(delay=redelivery_delay(delivered, svc.settings.retry_base_s, svc.settings.retry_max_s))
            return
        code = e.code if isinstance(e, AmpError) else ("unavailable" if kind is Failure.TRANSIENT else "internal")
        await dead_letter(svc, raw.subject, raw.data, f"recording webhook deliveries failed: {e}", code, batch)
        await raw.ack()
        return
    await raw.ack()
    if new:
        svc.wake.set()


def create_app(settings: Settings) -> FastStream:
    broker = service_broker(settings.nats_url, f"amp-{SERVICE}", traced=False)  # a span per message: on_fetched
    stream = JStream(settings.stream_name, subjects=["amp.>"], declare=False)
    state: dict[str, Any] = {}

    @broker.subscriber(f"{Subjects.EVENTS}.>", stream=stream, durable=DURABLE,
                       pull_sub=PullSub(batch_size=FETCH_MAX, timeout=settings.webhook_fetch_wait_s, batch=True),
                       ack_policy=AckPolicy.MANUAL,
                       config=ConsumerConfig(ack_wait=settings.ack_wait_s, max_deliver=settings.max_deliver),
                       title=f"{SERVICE}:record", description="Every step's events: one webhook delivery per "
                       "subscription and event", decoder=delivered_message)
    async def on_events(msg: NatsBatchMessage) -> None:
        await on_fetched(state["svc"], msg.raw_message)

    app = FastStream(broker)

    @app.on_startup
    async def _start() -> None:
        state["cm"] = open_deps(settings, SERVICE, graphs=False)
        deps = await state["cm"].__aenter__()
        policy = TargetPolicy(allow_http=settings.webhook_allow_http, allow_private=settings.webhook_allow_private)
        state["svc"] = Webhooks(pool=deps.pool, settings=settings, sender=Sender(policy, settings.webhook_timeout_s),
                                js=deps.js)
        state["in_flight"] = set()

    @app.after_startup
    async def _sender() -> None:
        state["task"] = housekeeping_task(run_sender(state["svc"], state["in_flight"]))

    @app.on_shutdown
    async def _drain() -> None:
        """Stop claiming; let attempts under way record their answers (their leases cover the rest)."""
        if "task" in state:
            state["task"].cancel()
        if state.get("in_flight"):
            await asyncio.wait(state["in_flight"], timeout=settings.webhook_timeout_s + 1)

    @app.after_shutdown
    async def _stop() -> None:
        if "svc" in state:
            await state["svc"].sender.close()
        if "cm" in state:
            await state["cm"].__aexit__(None, None, None)

    return app
