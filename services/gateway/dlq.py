"""Operators' view of the dead letters: what no step could take, why, and a way to send it again.

A dead letter carries the original message (requirements included), so the platform's operators
(`AMP_ADMINS`) see them all and a project's owners those of their projects; anyone else gets 404.

A dead letter is kept in the database with its reason and the original message (also copied
to `amp.dlq.<service>` for subscribers). Replaying one publishes the message again under a new
message id, through the outbox: a stopped (`stalled`) decision set resumes from it; one that has
ended stays ended (nothing reopens a finished decision set), so its message is not replayed.
A dead letter of the webhooks service (an event batch whose deliveries could not be recorded)
is published again on its subject whatever its decision set's status: it reports what happened.
"""

from __future__ import annotations

from typing import Any

from amp_contracts import Forbidden, GateClosed, NotFound, api, lifecycle
from amp_runtime import store
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from . import commands
from .auth import Access, Principal, authorize, caller, is_admin
from .idempotency import Unit, command
from .openapi import errors, idempotency_key, typed

router = APIRouter(prefix="/dead-letters", tags=["ops"])
#: A dead letter's id is a Postgres bigserial: anything else cannot name one (422, not a failed query)
DeadLetterId = Path(ge=-(2**63), le=2**63 - 1, description="The dead letter's id.")


def _view(row: dict[str, Any], with_body: bool = False) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("body", "digest")}
    if with_body:
        body = bytes(row["body"])
        try:
            out["message"] = body.decode()
        except UnicodeDecodeError:
            out["message"] = body.hex()
    return out


@router.get("", summary="Dead letters, newest first (replayed ones with ?all=true)", operation_id="listDeadLetters",
            **typed(api.DeadLetterList))
async def list_dead_letters(request: Request, limit: int = Query(100, ge=1, le=1000),
                            all: bool = Query(False), who: Principal = Depends(caller)) -> dict[str, Any]:
    owner = None if is_admin(request, who) else who.sub
    if owner is not None and who.api_key_id is not None:
        return {"dead_letters": []}
    rows = await store.list_dead_letters(request.app.state.deps.pool, limit, include_replayed=all, owner_id=owner)
    return jsonable_encoder({"dead_letters": [_view(r) for r in rows]})


async def _visible(request: Request, who: Principal, dl_id: int) -> tuple[dict[str, Any], Access | None]:
    """The dead letter, if the caller is an operator or an owner of its project (404 otherwise)."""
    row = await store.get_dead_letter(request.app.state.deps.pool, dl_id)
    project_id = str(row["project_id"]) if row.get("project_id") else None
    if is_admin(request, who):
        return row, Access(who, project_id, "owner") if project_id else None
    if project_id is None:
        raise NotFound(f"dead letter {dl_id} not found")
    try:
        return row, await authorize(request, who, project_id, "manage")
    except Forbidden:
        raise NotFound(f"dead letter {dl_id} not found") from None


@router.get("/{dl_id}", summary="One dead letter with its reason and the original message",
            operation_id="getDeadLetter", responses=errors(404), **typed(api.DeadLetter))
async def get_dead_letter(request: Request, dl_id: int = DeadLetterId, who: Principal = Depends(caller)) -> dict[str, Any]:
    row, _ = await _visible(request, who, dl_id)
    return jsonable_encoder(_view(row, with_body=True))


@router.post("/{dl_id}/replay", status_code=202, summary="Publish a dead letter's message again (once per key)",
             operation_id="replayDeadLetter", dependencies=[Depends(idempotency_key)], responses=errors(404, 409),
             **typed(api.DeadLetterReplay))
async def replay(request: Request, dl_id: int = DeadLetterId, who: Principal = Depends(caller)) -> JSONResponse:
    _, access = await _visible(request, who, dl_id)
    return await command(request, {"dead_letter": dl_id}, 202, lambda u: _replay(u, dl_id, access))


async def _replay(u: Unit, dl_id: int, access: Access | None) -> dict[str, Any]:
    row = await store.get_dead_letter(u.conn, dl_id)
    ds_id = row.get("decision_set_id")
    # a webhooks dead letter is a batch of events that already happened: sent again whatever the run's status
    ds = (await store.find_project_decision_set(u.conn, str(ds_id), project_id=str(row["project_id"]))
          if ds_id and row.get("project_id") and row["service"] != "webhooks" else None)
    if ds is not None and ds["status"] == "stalled" and access is not None:
        await commands.resume(u, str(ds_id), access)  # the parked message is this one: resuming sends it
    elif ds is not None and lifecycle.is_terminal(ds["status"]):
        raise GateClosed(f"decision set {ds_id} has ended ({ds['status']}); its dead letter is kept for the record "
                         "but not replayed (start a new version instead)")
    else:
        n = await store.mark_dead_letter_replayed(u.conn, dl_id)
        await u.enqueue(str(row["project_id"]) if row.get("project_id") else "00000000-0000-0000-0000-000000000000",
                        row["subject"], f"dlq-replay:{dl_id}:{n}", bytes(row["body"]), ds_id)
        return {"dead_letter_id": dl_id, "subject": row["subject"], "replays": n}
    n = await store.mark_dead_letter_replayed(u.conn, dl_id)
    return {"dead_letter_id": dl_id, "subject": row["subject"], "replays": n, "decision_set_id": ds_id,
            "status": "resuming"}
