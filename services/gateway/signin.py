"""Signing in: the embedded issuer's keys, and the web page's session cookie.

The page cannot hold a bearer token safely in script-readable storage, so a token (from `amp
token`, or an external issuer's) is exchanged once for an HttpOnly, SameSite=Strict cookie that
carries it; the REST routes and the SSE stream accept that cookie.
"""

from __future__ import annotations

import time
from typing import Any

from amp_contracts import NotFound, api
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from .auth import COOKIE, authenticate
from .openapi import errors, typed
from .schemas import SessionCreate

router = APIRouter(tags=["identity"])


def _issuer(request: Request):
    issuer = request.app.state.auth.issuer
    if issuer is None:
        raise NotFound("this gateway accepts an external issuer's tokens; its keys are published by that issuer")
    return issuer


@router.get("/.well-known/openid-configuration", summary="The embedded issuer's discovery document",
            operation_id="getOpenIdConfiguration", responses=errors(404), **typed(api.OpenIdConfiguration))
async def discovery(request: Request) -> dict[str, Any]:
    issuer = _issuer(request)
    base = str(request.base_url).rstrip("/")
    return {"issuer": issuer.issuer, "jwks_uri": f"{base}/.well-known/jwks.json",
            "id_token_signing_alg_values_supported": ["ES256"], "subject_types_supported": ["public"]}


@router.get("/.well-known/jwks.json", summary="The embedded issuer's public keys", operation_id="getJwks",
            responses=errors(404), **typed(api.Jwks))
async def jwks(request: Request) -> Response:
    return JSONResponse(_issuer(request).jwks(), headers={"Cache-Control": "public, max-age=300"})


@router.get("/signin", include_in_schema=False)
async def signin_page(request: Request) -> FileResponse:
    return FileResponse(request.app.state.static / "signin.html")


@router.post("/auth/session", summary="Exchange a token for the web page's session cookie",
             operation_id="createSession", responses=errors(401, 503), **typed(api.Session))
async def create_session(request: Request, body: SessionCreate) -> JSONResponse:
    who = await authenticate(request, body.token.strip())
    exp = who.expires_at or time.time() + 12 * 3600
    response = JSONResponse({"user_id": who.sub, "name": who.name, "email": who.email})
    response.set_cookie(COOKIE, body.token.strip(), max_age=max(60, int(exp - time.time())), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


@router.delete("/auth/session", status_code=204, summary="Sign out of the web page", operation_id="deleteSession")
async def delete_session() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
