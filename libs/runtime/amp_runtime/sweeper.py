"""The stall sweeper: a decision set that should be moving and is not gets noticed.

The outbox makes a lost message impossible once a step commits, and redeliveries ride through
short outages; what is left is a decision set whose step ran out of deliveries while the
database itself was down (its dead letter could not be written either), or a message an
operator removed. A decision set in a running status with no write for `stall_after_s` is
re-driven: the newest message written for it (its last step's output, or the gateway's command)
is published again under a new message id, and the step protocol does the rest (a step that
already ran replays its output; the one that did not, runs). After `max_redrives` re-drives it
stops as `stalled`, with a run-error on its timeline, and `amp resume` runs the step again.

Every gateway replica may sweep: a re-drive is claimed by compare-and-set on the row's version.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import asyncpg
from amp_contracts import ConflictError, Event, GateWaiting, IllegalTransition, ReasonCard, RunError
from nats.js import JetStreamContext

from . import outbox, store
from .settings import Settings
from .step import enqueue_events

log = logging.getLogger("amp.sweeper")


async def sweep_once(pool: asyncpg.Pool, js: JetStreamContext, stall_after_s: float, max_redrives: int) -> list[str]:
    """Handle every stalled decision set once; returns what was done, one line each (for logs and tests)."""
    done: list[str] = []
    for row in await store.stalled_decision_sets(pool, stall_after_s):
        last = await store.last_outbox_message(pool, row["id"])
        if last is not None and row["redrives"] < max_redrives:
            n = row["redrives"] + 1
            async with pool.acquire(timeout=10) as conn, conn.transaction():
                if not await store.count_redrive(conn, row["id"], row["lock_version"]):
                    continue  # another sweeper, or a step, got there first
                item = await outbox.enqueue(conn, row["project_id"], last["subject"], f"{last['msg_id']}:redrive:{n}",
                                            bytes(last["body"]), row["id"])
            await outbox.send(pool, js, [item])
            log.warning("decision set %s stalled in %s: re-driven (%d of %d) with %s", row["id"], row["status"], n,
                        max_redrives, last["subject"])
            done.append(f"redrive {row['id']} {n}")
        elif await stop(pool, js, row, last, stall_after_s):
            done.append(f"stalled {row['id']}")
    return done


async def stop(pool: asyncpg.Pool, js: JetStreamContext, row: dict[str, Any], last: dict[str, Any] | None,
               stall_after_s: float) -> bool:
    """End the re-drives: `stalled`, the last message parked on the decision set for `resume`."""
    ds_id = row["id"]
    run_id = str(uuid.uuid5(uuid.UUID(ds_id), "run"))
    message = (f"No progress in {row['stage']} for {int(stall_after_s)} s after {row['redrives']} re-drives. "
               f"`amp resume {ds_id}` runs the step again.")
    gate = GateWaiting(decision_set_id=ds_id, gate="error", message=message)
    parked: dict[str, Any] = gate.model_dump(mode="json")
    if last is not None:
        parked |= {"subject": last["subject"], "body": bytes(last["body"]).decode()}
    card = ReasonCard(decision_id=str(uuid.uuid5(uuid.UUID(ds_id), f"stall:{row['lock_version']}")), agent="sweeper",
                      node_name=row["stage"] or "", summary=message, risks=["stalled"], confidence=0.0)
    try:
        async with pool.acquire(timeout=10) as conn, conn.transaction():
            changed = await store.update_decision_set(conn, ds_id, {"status": "stalled", "gate": parked},
                                                      expect_lock_version=row["lock_version"], node=row["stage"] or "",
                                                      run_id=run_id)
            key = f"stall:{ds_id}:{changed['lock_version']}"
            node = row["stage"] or "sweeper"
            events = ([changed["transition"]] if changed["transition"] is not None else []) + await store.insert_events(
                conn, [Event(type="reason-card", project_id=row["project_id"], decision_set_id=ds_id, run_id=run_id,
                             node_name=node, data=card.model_dump(mode="json")),
                       Event(type="run-error", project_id=row["project_id"], decision_set_id=ds_id, run_id=run_id,
                             node_name=node, data=RunError(decision_set_id=ds_id, node_name=node, message=message,
                                                           code="stalled").model_dump(mode="json")),
                       Event(type="gate-waiting", project_id=row["project_id"], decision_set_id=ds_id, run_id=run_id,
                             node_name=node, data=parked)], key, None)
            outgoing = await enqueue_events(conn, events, key)
    except (ConflictError, IllegalTransition):
        return False  # it moved meanwhile
    await outbox.send(pool, js, outgoing)
    log.error("decision set %s stopped as stalled in %s", ds_id, row["stage"])
    return True


async def sweep(pool: asyncpg.Pool, js: JetStreamContext, settings: Settings) -> None:
    """`sweep_once` for ever, every tenth of the stall threshold (at most every `sweep_interval_s`)."""
    interval = max(settings.sweep_interval_s, min(60.0, settings.stall_after_s / 10))
    while True:
        try:
            await sweep_once(pool, js, settings.stall_after_s, settings.max_redrives)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - an outage: next tick
            log.warning("stall sweep failed: %s", e)
        await asyncio.sleep(interval)
