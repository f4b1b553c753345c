"""Webhook subscriptions of a project and their delivery log (the webhooks service sends them).

Only a project's owners manage its webhooks: every route depends on `owner_of_project` (the
owner role; a non-member gets 404, another role 403). A subscription's secret is shown once, in
the answer that creates (or rotates) it; listings never carry it. URLs are checked when saved
(https, no credentials, a public address) and again by the sender at every connection.

A create or rotate repeated with its `Idempotency-Key` gets the same answer, secret included,
while that secret is still the subscription's own: the idempotency record keeps the answer
without the secret (only its SHA-256), and a replay reads the secret from the subscription. A
second plaintext copy would outlive a rotation or a deletion; once the secret has been rotated
again (or the subscription deleted), the replay answers 409 instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from amp_contracts import WEBHOOK_EVENTS, ConflictError, ValidationFailed, api
from amp_domain.webhook_signing import new_secret
from amp_domain.webhooks import TargetPolicy, UnsafeTarget
from amp_runtime import store, webhook_store
from amp_runtime.canonical import sha256_hex
from amp_runtime.netguard import check_target
from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from .auth import Principal, authorize, caller
from .idempotency import Unit, command
from .openapi import errors, idempotency_key, typed
from .schemas import SecretRotate, WebhookCreate, WebhookPatch

router = APIRouter(tags=["webhooks"])
#: Where an idempotency record keeps the SHA-256 of the secret it answered with (never the secret).
SECRET_DIGEST = "secret_sha256"
#: How a create or rotate is replayed (both OpenAPI descriptions say it).
REPLAY_NOTE = ("A repeat with the same `Idempotency-Key` gets the same answer, the same secret included, while that "
               "secret is still the subscription's; the secret is not stored with the key, so once it has been "
               "rotated again (or the subscription deleted) the repeat answers 409 without it.")


def _deps(request: Request):
    return request.app.state.deps


async def owner_of_project(request: Request, project_id: str, who: Principal = Depends(caller)) -> dict[str, Any]:
    """The project, if the caller may manage its webhooks (its owners may)."""
    await authorize(request, who, project_id, "manage")
    return await store.get_project(_deps(request).pool, project_id)


owner_of_project.scoped = True  # type: ignore[attr-defined]  # the OpenAPI document: 404 to non-members, 403 to others


async def _check_url(request: Request, url: str) -> None:
    s = _deps(request).settings
    try:
        await check_target(url, TargetPolicy(allow_http=s.webhook_allow_http, allow_private=s.webhook_allow_private))
    except UnsafeTarget as e:
        raise ValidationFailed(f"url: {e}") from None


def view(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row.get(k) for k in webhook_store.SUBSCRIPTION_PUBLIC}
    out["deliveries"] = row.get("deliveries") or {}
    base = f"/projects/{row['project_id']}/webhooks/{row['id']}"
    out["links"] = {"self": base, "deliveries": f"{base}/deliveries"}
    return out


def delivery_view(row: dict[str, Any], subscription: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("payload", "attempt_log")}
    out["attempt_log"] = row.get("attempt_log") or []
    if "payload" in row:
        out["payload"] = row["payload"]
    base = f"/projects/{subscription['project_id']}/webhooks/{subscription['id']}/deliveries/{row['id']}"
    out["links"] = {"self": base, "redeliver": f"{base}/redeliver"}
    return out


def without_secret(answer: dict[str, Any]) -> dict[str, Any]:
    """What the idempotency record keeps of an answer with a secret: the answer without it, and its digest."""
    out = {k: v for k, v in answer.items() if k != "secret"}
    out[SECRET_DIGEST] = sha256_hex(answer["secret"])
    return out


async def with_current_secret(u: Unit, kept: dict[str, Any]) -> dict[str, Any]:
    """A replay's answer: the first answer again, its secret read from the subscription while it is still the
    one that answer created; once rotated again (or the subscription deleted) there is nothing to repeat: 409."""
    out = {k: v for k, v in kept.items() if k != SECRET_DIGEST}
    secret = await webhook_store.current_secret(u.conn, kept["project_id"], kept["id"])
    if secret is None or sha256_hex(secret) != kept.get(SECRET_DIGEST):
        raise ConflictError(f"the secret this request created for webhook {kept['id']} is no longer its signing "
                            "secret (it was rotated since, or the subscription deleted); it is not kept anywhere "
                            "else. Rotate the secret for a new one")
    return {**out, "secret": secret}


@router.get("/webhooks/event-types", summary="The webhook event types and what each means",
            operation_id="listWebhookEventTypes", **typed(api.WebhookEventTypes))
async def event_types(who: Principal = Depends(caller)) -> dict[str, Any]:
    return {"event_types": [{"type": t, "description": d} for t, d in WEBHOOK_EVENTS.items()]}


@router.post("/projects/{project_id}/webhooks", status_code=201,
             summary="Subscribe a URL to a project's events; the answer carries the signing secret, once",
             operation_id="createWebhook", dependencies=[Depends(idempotency_key)], description=REPLAY_NOTE,
             **typed(api.WebhookWithSecret))
async def create_webhook(request: Request, body: WebhookCreate,
                         project: dict = Depends(owner_of_project)) -> JSONResponse:
    await _check_url(request, body.url)

    async def create(u: Unit) -> dict[str, Any]:
        secret = new_secret()
        row = await webhook_store.create_subscription(u.conn, project["id"], body.url, list(body.events),
                                                      body.description, secret, body.enabled)
        return {**view(row), "secret": secret}

    return await command(request, {"project": project["id"], **body.model_dump()}, 201, create,
                         stored=without_secret, replayed=with_current_secret)


@router.get("/projects/{project_id}/webhooks", summary="A project's webhook subscriptions (without secrets)",
            operation_id="listWebhooks", **typed(api.WebhookList))
async def list_webhooks(request: Request, project: dict = Depends(owner_of_project)) -> dict[str, Any]:
    rows = await webhook_store.list_subscriptions(_deps(request).pool, project["id"])
    return jsonable_encoder({"project_id": project["id"], "webhooks": [view(r) for r in rows]})


@router.get("/projects/{project_id}/webhooks/{webhook_id}", summary="A webhook subscription (without its secret)",
            operation_id="getWebhook", **typed(api.WebhookSubscription))
async def get_webhook(request: Request, webhook_id: str, project: dict = Depends(owner_of_project)) -> dict[str, Any]:
    return jsonable_encoder(view(await webhook_store.get_subscription(_deps(request).pool, project["id"], webhook_id)))


@router.patch("/projects/{project_id}/webhooks/{webhook_id}",
              summary="Enable or disable a subscription, or change its URL, events or description",
              operation_id="updateWebhook", **typed(api.WebhookSubscription))
async def patch_webhook(request: Request, webhook_id: str, body: WebhookPatch,
                        project: dict = Depends(owner_of_project)) -> dict[str, Any]:
    d = _deps(request)
    fields = body.model_dump(exclude_none=True)
    if "url" in fields:
        await _check_url(request, fields["url"])
    row = await webhook_store.update_subscription(d.pool, project["id"], webhook_id, fields)
    return jsonable_encoder(view(row))


@router.delete("/projects/{project_id}/webhooks/{webhook_id}", status_code=204,
               summary="Delete a subscription and its delivery log", operation_id="deleteWebhook")
async def delete_webhook(request: Request, webhook_id: str, project: dict = Depends(owner_of_project)) -> Response:
    await webhook_store.delete_subscription(_deps(request).pool, project["id"], webhook_id)
    return Response(status_code=204)


@router.post("/projects/{project_id}/webhooks/{webhook_id}/rotate-secret",
             summary="A new signing secret (shown once); the current one keeps signing during the overlap",
             operation_id="rotateWebhookSecret", dependencies=[Depends(idempotency_key)], description=REPLAY_NOTE,
             **typed(api.WebhookWithSecret))
async def rotate_secret(request: Request, webhook_id: str, body: SecretRotate | None = None,
                        project: dict = Depends(owner_of_project)) -> JSONResponse:
    overlap = (body or SecretRotate()).overlap_s

    async def rotate(u: Unit) -> dict[str, Any]:
        secret = new_secret()
        row = await webhook_store.rotate_secret(u.conn, project["id"], webhook_id, secret, overlap)
        return {**view(row), "secret": secret}

    return await command(request, {"webhook": webhook_id, "overlap_s": overlap}, 200, rotate,
                         stored=without_secret, replayed=with_current_secret)


@router.get("/projects/{project_id}/webhooks/{webhook_id}/deliveries",
            summary="The delivery log: attempts, status codes, latency, next retry",
            operation_id="listWebhookDeliveries", **typed(api.DeliveryList))
async def list_deliveries(request: Request, webhook_id: str,
                          state: str | None = Query(None, pattern="^(pending|sending|delivered|failed)$"),
                          limit: int = Query(50, ge=1, le=500), before: datetime | None = Query(None),
                          project: dict = Depends(owner_of_project)) -> dict[str, Any]:
    d = _deps(request)
    sub = await webhook_store.get_subscription(d.pool, project["id"], webhook_id)
    rows = await webhook_store.list_deliveries(d.pool, webhook_id, state=state, limit=limit, before=before)
    return jsonable_encoder({"webhook_id": webhook_id, "deliveries": [delivery_view(r, sub) for r in rows]})


@router.get("/projects/{project_id}/webhooks/{webhook_id}/deliveries/{delivery_id}",
            summary="One delivery with the body that was signed and sent", operation_id="getWebhookDelivery",
            **typed(api.WebhookDelivery))
async def get_delivery(request: Request, webhook_id: str, delivery_id: str,
                       project: dict = Depends(owner_of_project)) -> dict[str, Any]:
    d = _deps(request)
    sub = await webhook_store.get_subscription(d.pool, project["id"], webhook_id)
    return jsonable_encoder(delivery_view(await webhook_store.get_delivery(d.pool, webhook_id, delivery_id), sub))


@router.post("/projects/{project_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202,
             summary="Send a delivery again now (same webhook-id and body, a new attempt chain)",
             operation_id="redeliverWebhookDelivery", responses=errors(409), **typed(api.Redelivery))
async def redeliver(request: Request, webhook_id: str, delivery_id: str,
                    project: dict = Depends(owner_of_project)) -> dict[str, Any]:
    d = _deps(request)
    sub = await webhook_store.get_subscription(d.pool, project["id"], webhook_id)
    if not sub["enabled"]:
        raise ConflictError(f"webhook {webhook_id} is disabled ({sub.get('disabled_reason') or 'by a person'}); "
                               "enable it first")
    row = await webhook_store.redeliver(d.pool, webhook_id, delivery_id)
    return {"delivery_id": row["id"], "state": row["state"]}
