"""A project's members and API keys (owners only), and the caller's own identity.

An API key is shown once, in the answer that creates it; only its SHA-256 is stored (so its
creation is not replayed for an `Idempotency-Key`: the answer would keep the key at rest). It acts
with one role on one project, until it expires or is revoked (at once: every request looks it up).
"""

from __future__ import annotations

from typing import Any

from amp_contracts import Forbidden, ValidationFailed, api
from amp_domain.access import ALLOWED, DESCRIPTIONS, ROLES
from amp_runtime import store
from amp_runtime.identity import new_api_key
from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from .auth import Access, Principal, caller, on_project
from .openapi import errors, typed
from .schemas import ApiKeyCreate, MemberPut

router = APIRouter(tags=["members"])

USER_ID_MAX = 200


def _pool(request: Request):
    return request.app.state.deps.pool


@router.get("/me", summary="Who the caller is (the token's subject, name, email)", operation_id="getMe",
            **typed(api.Me))
async def me(who: Principal = Depends(caller)) -> dict[str, Any]:
    return {"user_id": who.sub, "name": who.name, "email": who.email, "api_key_id": who.api_key_id,
            "project_id": who.project_id, "role": who.role}


@router.get("/roles", summary="The roles of a project and what each may do", operation_id="listRoles",
            **typed(api.Roles))
async def roles(who: Principal = Depends(caller)) -> dict[str, Any]:
    return {"roles": [{"role": r, "may": [a for a, allowed in ALLOWED.items() if r in allowed]} for r in ROLES],
            "actions": DESCRIPTIONS}


@router.get("/projects/{project_id}/members", summary="The project's members and their roles",
            operation_id="listMembers", **typed(api.MemberList))
async def list_members(request: Request, project_id: str, access: Access = on_project("read")) -> dict[str, Any]:
    return jsonable_encoder({"project_id": project_id, "members": await store.list_members(_pool(request), project_id)})


@router.put("/projects/{project_id}/members/{user_id}", summary="Add a member or change their role (owner)",
            operation_id="putMember", responses=errors(409, 422), **typed(api.ProjectMember))
async def put_member(request: Request, project_id: str, user_id: str, body: MemberPut,
                     access: Access = on_project("manage")) -> dict[str, Any]:
    _check_user_id(user_id)
    async with _pool(request).acquire() as conn:
        row = await store.put_member(conn, project_id, user_id, body.role, access.user_id)
    return jsonable_encoder({"project_id": project_id, **row})


@router.delete("/projects/{project_id}/members/{user_id}", status_code=204,
               summary="Remove a member (owner); the last owner stays", operation_id="deleteMember",
               responses=errors(409))
async def delete_member(request: Request, project_id: str, user_id: str,
                        access: Access = on_project("manage")) -> Response:
    async with _pool(request).acquire() as conn:
        await store.delete_member(conn, project_id, user_id)
    return Response(status_code=204)


@router.post("/projects/{project_id}/api-keys", status_code=201,
             summary="A key for CI and scripts, with one role on this project; the key is in this answer only",
             operation_id="createApiKey", **typed(api.ApiKeyCreated))
async def create_api_key(request: Request, project_id: str, body: ApiKeyCreate,
                         access: Access = on_project("manage")) -> JSONResponse:
    if access.who.api_key_id is not None:
        raise Forbidden("an API key cannot create API keys")

    # Not through the Idempotency-Key store: a replayable answer would keep the key itself at rest.
    key_id = store.new_id()
    key, digest = new_api_key(key_id)
    row = await store.create_api_key(_pool(request), key_id, project_id, body.name, body.role, digest,
                                     access.user_id, body.expires_at)
    return JSONResponse(jsonable_encoder({**row, "key": key}), status_code=201)


@router.get("/projects/{project_id}/api-keys", summary="The project's API keys (never the keys themselves)",
            operation_id="listApiKeys", **typed(api.ApiKeyList))
async def list_api_keys(request: Request, project_id: str, access: Access = on_project("manage")) -> dict[str, Any]:
    return jsonable_encoder({"project_id": project_id, "api_keys": await store.list_api_keys(_pool(request),
                                                                                               project_id)})


@router.delete("/projects/{project_id}/api-keys/{key_id}", status_code=204, summary="Revoke a key, at once",
               operation_id="revokeApiKey")
async def revoke_api_key(request: Request, project_id: str, key_id: str,
                         access: Access = on_project("manage")) -> Response:
    await store.revoke_api_key(_pool(request), project_id, key_id)
    return Response(status_code=204)


def _check_user_id(user_id: str) -> None:
    if not user_id.strip() or len(user_id) > USER_ID_MAX or any(ord(c) < 32 for c in user_id):
        raise ValidationFailed(f"user_id must be 1-{USER_ID_MAX} printable characters (the token's subject)")
