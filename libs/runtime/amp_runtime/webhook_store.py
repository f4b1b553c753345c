"""Every SQL statement of webhooks: subscriptions, deliveries (one per subscription and event) and their attempts.

Exactly one attempt chain per (subscription, event): a delivery row is keyed by both, so a
redelivered bus message or a second replica inserts nothing new. Sending is claimed with
`FOR UPDATE SKIP LOCKED` and a lease: the claim counts the attempt and pushes `next_attempt_at`
past the attempt's time limit, so a sender that dies mid-attempt leaves a row that becomes due
again when its lease ends, and the attempt number fences the late answer of a sender whose lease
was taken over.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from amp_contracts import ConflictError, NotFound

Conn = asyncpg.Pool | asyncpg.Connection

SUBSCRIPTION_PUBLIC = ("id", "project_id", "url", "events", "description", "enabled", "disabled_reason",
                       "previous_secret_expires_at", "created_at", "updated_at")
_SUB_COLUMNS = ", ".join(SUBSCRIPTION_PUBLIC)
_DELIVERY_COLUMNS = ("d.id, d.subscription_id, d.project_id, d.message_id, d.event_type, d.decision_set_id, d.state, "
                     "d.attempts, d.chain_attempts, d.next_attempt_at, d.last_status_code, d.last_error, "
                     "d.created_at, d.completed_at")


def _row(record: asyncpg.Record | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in dict(record).items()}


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} {value} not found") from None


# --- subscriptions --------------------------------------------------------------------------

async def create_subscription(db: Conn, project_id: str, url: str, events: list[str], description: str,
                              secret: str, enabled: bool = True) -> dict[str, Any]:
    rec = await db.fetchrow(
        f"INSERT INTO webhook_subscriptions (id, project_id, url, events, description, enabled, secret) "
        f"VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_SUB_COLUMNS}",
        uuid.uuid4(), _uuid(project_id, "project"), url, events, description, enabled, secret)
    return _row(rec)  # type: ignore[return-value]


async def list_subscriptions(db: Conn, project_id: str) -> list[dict[str, Any]]:
    """A project's subscriptions (never their secrets), each with its deliveries counted by state."""
    rows = await db.fetch(
        f"SELECT {', '.join('s.' + c for c in SUBSCRIPTION_PUBLIC)}, "
        "(SELECT coalesce(jsonb_object_agg(state, n), '{}'::jsonb) FROM (SELECT state, count(*) AS n "
        " FROM webhook_deliveries WHERE subscription_id = s.id GROUP BY state) c) AS deliveries "
        "FROM webhook_subscriptions s WHERE s.project_id = $1 ORDER BY s.created_at", _uuid(project_id, "project"))
    return [_row(r) for r in rows]  # type: ignore[misc]


async def get_subscription(db: Conn, project_id: str, subscription_id: str) -> dict[str, Any]:
    row = _row(await db.fetchrow(f"SELECT {_SUB_COLUMNS} FROM webhook_subscriptions WHERE id = $1 AND project_id = $2",
                                 _uuid(subscription_id, "webhook"), _uuid(project_id, "project")))
    if row is None:
        raise NotFound(f"webhook {subscription_id} not found in project {project_id}")
    return row


async def current_secret(db: Conn, project_id: str, subscription_id: str) -> str | None:
    """The subscription's signing secret, or None when there is no such subscription."""
    try:
        ids = uuid.UUID(str(subscription_id)), uuid.UUID(str(project_id))
    except ValueError:
        return None
    return await db.fetchval("SELECT secret FROM webhook_subscriptions WHERE id = $1 AND project_id = $2", *ids)


async def update_subscription(db: Conn, project_id: str, subscription_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Set url, events, description or enabled; enabling clears the reason it was disabled."""
    allowed = {"url", "events", "description", "enabled"}
    bad = set(fields) - allowed
    if bad:
        raise ValueError(f"unknown webhook columns {sorted(bad)}")
    if not fields:
        return await get_subscription(db, project_id, subscription_id)
    sets = [f"{k} = ${i}" for i, k in enumerate(fields, start=3)]
    if fields.get("enabled") is True:
        sets.append("disabled_reason = NULL")
    elif fields.get("enabled") is False:
        sets.append("disabled_reason = coalesce(disabled_reason, 'disabled by a person')")
    rec = await db.fetchrow(
        f"UPDATE webhook_subscriptions SET {', '.join(sets)}, updated_at = now() WHERE id = $1 AND project_id = $2 "
        f"RETURNING {_SUB_COLUMNS}", _uuid(subscription_id, "webhook"), _uuid(project_id, "project"), *fields.values())
    if rec is None:
        raise NotFound(f"webhook {subscription_id} not found in project {project_id}")
    return _row(rec)  # type: ignore[return-value]


async def delete_subscription(db: Conn, project_id: str, subscription_id: str) -> None:
    done = await db.execute("DELETE FROM webhook_subscriptions WHERE id = $1 AND project_id = $2",
                            _uuid(subscription_id, "webhook"), _uuid(project_id, "project"))
    if done.endswith(" 0"):
        raise NotFound(f"webhook {subscription_id} not found in project {project_id}")


async def rotate_secret(db: Conn, project_id: str, subscription_id: str, new_secret: str,
                        overlap_s: float) -> dict[str, Any]:
    """The new secret signs from now on; the current one also signs for `overlap_s` seconds (both signatures sent)."""
    rec = await db.fetchrow(
        "UPDATE webhook_subscriptions SET previous_secret = CASE WHEN $4 > 0 THEN secret END, "
        "previous_secret_expires_at = CASE WHEN $4 > 0 THEN now() + make_interval(secs => $4) END, "
        f"secret = $3, updated_at = now() WHERE id = $1 AND project_id = $2 RETURNING {_SUB_COLUMNS}",
        _uuid(subscription_id, "webhook"), _uuid(project_id, "project"), new_secret, float(overlap_s))
    if rec is None:
        raise NotFound(f"webhook {subscription_id} not found in project {project_id}")
    return _row(rec)  # type: ignore[return-value]


async def enabled_subscriptions(db: Conn, project_id: str) -> list[dict[str, Any]]:
    """What an event of a project is matched against: enabled subscriptions, their event types and start."""
    rows = await db.fetch("SELECT id, events, created_at FROM webhook_subscriptions WHERE project_id = $1 AND enabled",
                          uuid.UUID(project_id))
    return [_row(r) for r in rows]  # type: ignore[misc]


async def disable_subscription(db: Conn, subscription_id: str, reason: str) -> None:
    await db.execute("UPDATE webhook_subscriptions SET enabled = false, disabled_reason = $2, updated_at = now() "
                     "WHERE id = $1", uuid.UUID(subscription_id), reason)


# --- deliveries -----------------------------------------------------------------------------

async def insert_deliveries(db: Conn, rows: list[dict[str, Any]]) -> int:
    """One delivery per (subscription, message id), due now; rows already there are left as they are."""
    if not rows:
        return 0
    done = await db.execute(
        "INSERT INTO webhook_deliveries (id, subscription_id, project_id, message_id, event_type, decision_set_id, "
        "payload, next_attempt_at) SELECT i, s, p, m, t, d, b, now() FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], "
        "$4::text[], $5::text[], $6::uuid[], $7::text[]) AS u(i, s, p, m, t, d, b) "
        "ON CONFLICT (subscription_id, message_id) DO NOTHING",
        [uuid.uuid4() for _ in rows], [uuid.UUID(r["subscription_id"]) for r in rows],
        [uuid.UUID(r["project_id"]) for r in rows], [r["message_id"] for r in rows], [r["event_type"] for r in rows],
        [uuid.UUID(r["decision_set_id"]) if r.get("decision_set_id") else None for r in rows],
        [r["payload"] for r in rows])
    return int(done.rsplit(" ", 1)[-1])


async def claim_due(pool: asyncpg.Pool, limit: int, lease_s: float) -> list[dict[str, Any]]:
    """Claim up to `limit` due deliveries of enabled subscriptions for one attempt each (replicas skip each other).

    Each claimed row comes with its subscription's URL and secrets and the attempt's number `n`;
    an attempt a dead sender left without an answer is closed as interrupted.
    """
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "WITH due AS (SELECT d.id FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id "
            "  WHERE d.state IN ('pending', 'sending') AND d.next_attempt_at <= now() AND s.enabled "
            "  ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED) "
            "UPDATE webhook_deliveries d SET state = 'sending', attempts = d.attempts + 1, "
            "chain_attempts = d.chain_attempts + 1, next_attempt_at = now() + make_interval(secs => $2) "
            "FROM due, webhook_subscriptions s WHERE d.id = due.id AND s.id = d.subscription_id "
            "RETURNING d.id, d.subscription_id, d.project_id, d.message_id, d.event_type, d.payload, "
            "d.attempts AS n, d.chain_attempts, s.url, s.secret, s.previous_secret, s.previous_secret_expires_at",
            limit, float(lease_s))
        if rows:
            ids = [r["id"] for r in rows]
            await conn.execute(
                "UPDATE webhook_attempts SET finished_at = now(), error = 'interrupted: the sender stopped before "
                "an answer' WHERE delivery_id = ANY($1::uuid[]) AND finished_at IS NULL", ids)
            await conn.execute(
                "INSERT INTO webhook_attempts (delivery_id, n) SELECT * FROM unnest($1::uuid[], $2::int[]) "
                "ON CONFLICT DO NOTHING", ids, [r["n"] for r in rows])
    return [_row(r) for r in rows]  # type: ignore[misc]


async def finish_attempt(pool: asyncpg.Pool, delivery_id: str, n: int, *, state: str, status_code: int | None,
                         latency_ms: float, error: str | None, response: str | None,
                         retry_in_s: float | None = None, disable_reason: str | None = None) -> bool:
    """Record an attempt's answer and what follows (`pending` again after `retry_in_s`, `delivered` or `failed`).

    False when the claim was lost (the lease ran out and another sender took the delivery over).
    """
    async with pool.acquire() as conn, conn.transaction():
        done = await conn.fetchrow(
            "UPDATE webhook_deliveries SET state = $3, last_status_code = $4, last_error = $5, "
            "next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + make_interval(secs => $6) END, "
            "completed_at = CASE WHEN $3 IN ('delivered', 'failed') THEN now() END "
            "WHERE id = $1 AND attempts = $2 AND state = 'sending' RETURNING subscription_id",
            uuid.UUID(delivery_id), n, state, status_code, error, float(retry_in_s or 0.0))
        await conn.execute(
            "UPDATE webhook_attempts SET finished_at = now(), status_code = $3, latency_ms = $4, error = $5, "
            "response = $6 WHERE delivery_id = $1 AND n = $2 AND finished_at IS NULL",
            uuid.UUID(delivery_id), n, status_code, latency_ms, error, response)
        if done is not None and disable_reason:
            await disable_subscription(conn, str(done["subscription_id"]), disable_reason)
    return done is not None


async def list_deliveries(db: Conn, subscription_id: str, *, state: str | None = None, limit: int = 50,
                          before: datetime | None = None) -> list[dict[str, Any]]:
    """A subscription's deliveries, newest first, each with its attempts (status codes, latency, errors)."""
    rows = await db.fetch(
        f"SELECT {_DELIVERY_COLUMNS}, (SELECT coalesce(jsonb_agg(jsonb_build_object('n', a.n, 'started_at', "
        "a.started_at, 'finished_at', a.finished_at, 'status_code', a.status_code, 'latency_ms', a.latency_ms, "
        "'error', a.error) ORDER BY a.n), '[]'::jsonb) FROM webhook_attempts a WHERE a.delivery_id = d.id) AS attempt_log "
        "FROM webhook_deliveries d WHERE d.subscription_id = $1 AND ($2::text IS NULL OR d.state = $2) "
        "AND ($3::timestamptz IS NULL OR d.created_at < $3) ORDER BY d.created_at DESC, d.id LIMIT $4",
        _uuid(subscription_id, "webhook"), state, before, limit)
    return [_row(r) for r in rows]  # type: ignore[misc]


async def get_delivery(db: Conn, subscription_id: str, delivery_id: str) -> dict[str, Any]:
    rows = await db.fetch(
        f"SELECT {_DELIVERY_COLUMNS}, d.payload, (SELECT coalesce(jsonb_agg(jsonb_build_object('n', a.n, 'started_at', "
        "a.started_at, 'finished_at', a.finished_at, 'status_code', a.status_code, 'latency_ms', a.latency_ms, "
        "'error', a.error, 'response', a.response) ORDER BY a.n), '[]'::jsonb) FROM webhook_attempts a "
        "WHERE a.delivery_id = d.id) AS attempt_log FROM webhook_deliveries d WHERE d.id = $1 AND d.subscription_id = $2",
        _uuid(delivery_id, "delivery"), _uuid(subscription_id, "webhook"))
    if not rows:
        raise NotFound(f"delivery {delivery_id} not found")
    return _row(rows[0])  # type: ignore[return-value]


async def redeliver(db: Conn, subscription_id: str, delivery_id: str) -> dict[str, Any]:
    """Start a new attempt chain now, with the same webhook-id and body (a manual retry)."""
    rec = await db.fetchrow(
        "UPDATE webhook_deliveries SET state = 'pending', chain_attempts = 0, next_attempt_at = now(), "
        "completed_at = NULL WHERE id = $1 AND subscription_id = $2 AND state <> 'sending' RETURNING id, state",
        _uuid(delivery_id, "delivery"), _uuid(subscription_id, "webhook"))
    if rec is None:
        await get_delivery(db, subscription_id, delivery_id)  # 404 when it does not exist
        raise ConflictError(f"delivery {delivery_id} is being attempted right now; try again in a moment")
    return _row(rec)  # type: ignore[return-value]
