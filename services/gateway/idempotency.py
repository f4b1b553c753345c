"""Commands of the REST API: one connection, one transaction, and `Idempotency-Key` as the IETF
draft (draft-ietf-httpapi-idempotency-key-header) has it.

A command runs on one pooled connection taken with a timeout (none free in time: 503 with
Retry-After, never a wait without end), inside one transaction that also holds its outbox rows
and, with a key, its stored response: the effect and the record of its answer commit together,
so a crash cannot leave one without the other. The key is guarded by a transaction-scoped
advisory lock taken without waiting:

- the first request with a key runs the command and stores its response (errors included);
- a repeat gets the stored status, body and headers, marked `Idempotent-Replayed: true`
  (a command may keep less than its answer, and rebuild the rest on a replay: a webhook secret
  is never stored here, see `webhooks.py`);
- a repeat while the first is still running gets 409 (retry after a second);
- the key with a different body gets 422;
- keys are scoped to the caller (the signed-in user) and the route, and expire
  (`AMP_IDEMPOTENCY_TTL_S`, 24 h).

Server errors (5xx) are not stored: the command rolled back, and a retry with the key runs it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from amp_contracts import AmpError, IdempotencyKeyInUse, IdempotencyKeyReused, Unavailable, ValidationFailed
from amp_runtime import outbox, store
from amp_runtime.canonical import canonical_json, sha256_hex
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from .errors import error_response

MAX_KEY_LENGTH = 200
#: Response headers worth replaying (the rest are the server's own, set again on every response).
REPLAYED_HEADERS = ("retry-after", "location")


@dataclass
class Unit:
    """A command's transaction and the messages it publishes once that commits."""

    conn: asyncpg.Connection
    outgoing: list[outbox.Outgoing] = field(default_factory=list)

    async def enqueue(self, project_id: str, subject: str, msg_id: str, body: bytes,
                      decision_set_id: str | None = None) -> None:
        self.outgoing.append(await outbox.enqueue(self.conn, project_id, subject, msg_id, body, decision_set_id))


@contextlib.asynccontextmanager
async def connection(pool: asyncpg.Pool, timeout_s: float) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection within `timeout_s`, or 503: a request never waits on the pool for ever."""
    try:
        conn = await pool.acquire(timeout=timeout_s)
    except TimeoutError:
        raise Unavailable(f"no database connection became free within {timeout_s:g} s; retry shortly",
                          retry_after_s=1) from None
    try:
        yield conn
    finally:
        await pool.release(conn)


async def command(request: Request, body: Any, status_code: int, run: Callable[[Unit], Awaitable[Any]], *,
                  stored: Callable[[Any], Any] | None = None,
                  replayed: Callable[[Unit, Any], Awaitable[Any]] | None = None) -> JSONResponse:
    """Run `run` as a command. `stored` trims a successful answer before it is kept for replays (what
    must not be stored, such as a secret); `replayed` rebuilds the answer a replay returns from what
    was kept (it may refuse with an error of its own, which is returned and not stored)."""
    deps = request.app.state.deps
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        key = key.strip().strip('"')
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ValidationFailed(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters")
    route = f"{request.method} {request.url.path}"
    # per caller: another user's key never replays (or reveals) someone else's answer
    caller = getattr(request.state, "user_id", "") or ""
    digest = sha256_hex(canonical_json(body))
    unit: Unit
    async with connection(deps.pool, deps.settings.db_acquire_timeout_s) as conn, conn.transaction():
        unit = Unit(conn)
        if key is not None:
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                                       f"idem|{caller}|{route}|{key}"):
                raise IdempotencyKeyInUse("a request with this Idempotency-Key is still being processed; retry it "
                                          "shortly to get its response", retry_after_s=1)
            seen = await store.get_idempotent_response(conn, caller, route, key)
            if seen is not None:
                if seen["request_hash"] != digest:
                    raise IdempotencyKeyReused("Idempotency-Key was already used with a different request body")
                answer = seen["response"]
                if replayed is not None and seen["status_code"] < 400:
                    answer = jsonable_encoder(await replayed(unit, answer))
                return JSONResponse(answer, status_code=seen["status_code"],
                                    headers={**seen["headers"], "Idempotent-Replayed": "true"})
        try:
            async with conn.transaction():  # a savepoint: a refused command leaves nothing but its stored answer
                response: JSONResponse = JSONResponse(jsonable_encoder(await run(unit)), status_code=status_code)
        except AmpError as e:
            if key is None or e.http_status >= 500:
                raise
            unit.outgoing.clear()
            response = error_response(e.http_status, e.body())
        if key is not None:
            headers = {h: response.headers[h] for h in REPLAYED_HEADERS if h in response.headers}
            kept = json.loads(bytes(response.body))
            if stored is not None and response.status_code < 400:
                kept = stored(kept)
            await store.put_idempotent_response(conn, caller, route, key, digest, response.status_code,
                                                kept, headers, deps.settings.idempotency_ttl_s)
    await outbox.send(deps.pool, deps.js, unit.outgoing, deps.sent_marks)
    return response
