"""`Idempotency-Key` on every POST: the first response is stored and replayed.

The same key with a different body is a client error (409), not a silent replay. Keys are
scoped to the caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from amp_contracts import ConflictError, ValidationFailed
from amp_runtime import store
from amp_runtime.canonical import canonical_json, sha256_hex
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse


async def idempotent(request: Request, pool: asyncpg.Pool, body: Any, status_code: int,
                     run: Callable[[], Awaitable[Any]]) -> JSONResponse:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return JSONResponse(jsonable_encoder(await run()), status_code=status_code)
    if len(key) > 200:
        raise ValidationFailed("Idempotency-Key is longer than 200 characters")
    # per caller: another user's key never replays (or reveals) someone else's answer
    route = f"{request.method} {request.url.path} {getattr(request.state, 'user_id', '')}"
    digest = sha256_hex(canonical_json(body))
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", f"{route}|{key}")
        try:
            seen = await store.get_idempotent_response(conn, key, route)
            if seen is not None:
                if seen["request_hash"] != digest:
                    raise ConflictError("Idempotency-Key was already used with a different request")
                return JSONResponse(seen["response"], status_code=seen["status_code"],
                                    headers={"Idempotent-Replayed": "true"})
            result = jsonable_encoder(await run())
            await store.put_idempotent_response(conn, key, route, digest, status_code, result)
            return JSONResponse(result, status_code=status_code)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", f"{route}|{key}")
