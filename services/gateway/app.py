"""The gateway: FastAPI bridging JetStream to REST and SSE, and serving the web page.

Wiring only: settings in, an app out (`create_app(settings)`); the lifespan connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from amp_contracts import ErrorBody, api
from amp_runtime import outbox, sweeper
from amp_runtime.bootstrap import open_deps
from amp_runtime.identity import Principal
from amp_runtime.settings import Settings
from amp_runtime.status import platform_status
from amp_runtime.telemetry import fastapi_options, housekeeping_task, instrument_fastapi
from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_fastapi_instrumentator import Instrumentator

from . import errors, openapi
from .asyncapi import asyncapi_json
from .auth import Auth, caller, is_admin
from .dlq import router as dlq_router
from .edge import Edge
from .hub import EventHub
from .members import router as members_router
from .routes import router
from .signin import router as signin_router
from .views import pipeline_view
from .webhooks import router as webhooks_router

STATIC = Path(__file__).with_name("static")
log = logging.getLogger("amp.gateway")


class BodyLimit:
    """Refuse oversized bodies before reading them (413 in the error model).

    Plain ASGI rather than BaseHTTPMiddleware, so streaming responses (SSE) pass untouched.
    """

    #: Repository uploads are zips of a whole generated repository.
    UPLOAD_BYTES = 20 * 1024 * 1024

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.default_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        limit = self.UPLOAD_BYTES if scope["path"].endswith("/repo") else self.default_bytes
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await self._refuse(scope, receive, send, limit)
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: dict, receive: Any, send: Any, limit: int) -> None:
        response = errors.error_response(413, ErrorBody(code="payload_too_large",
                                                        message=f"request body is larger than {limit} bytes"))
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


async def _refresh_status(deps: Any, interval_s: float = 15.0) -> None:
    """Keep the platform-wide gauges (lag, dead letters, waiting gates) current between scrapes."""
    while True:
        try:
            await platform_status(deps.pool, deps.js, deps.settings.stream_name)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the next round reads again
            log.warning("could not read the platform status for the metrics", exc_info=True)
        await asyncio.sleep(interval_s)


def create_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_deps(settings, "gateway", graphs=False) as deps:
            hub = EventHub()
            await hub.start(deps.nc)
            deps.extras["hub"] = hub
            app.state.deps = deps
            tasks = [housekeeping_task(outbox.relay(deps.pool, deps.js)),
                     housekeeping_task(sweeper.sweep(deps.pool, deps.js, settings)),
                     housekeeping_task(_refresh_status(deps))]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await hub.stop()

    app = FastAPI(title="Agentic MLOps Platform", version="0.1.0", lifespan=lifespan,
                  description="Requirements in; a reviewed, costed, policy-checked, generated repository out. "
                              "Errors follow the model {error: {code, message, retry_after_s, run_id, node_name, details}}, "
                              "every field present (null where empty).", **fastapi_options())
    app.state.auth = Auth.from_settings(settings)
    app.state.static = STATIC
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Edge, allowed_hosts=settings.allowed_hosts)
    instrument_fastapi(app)
    # HTTP requests by route template and exact status (5xx alerts need the code), and GET /metrics:
    # like every route, for a signed-in caller (Prometheus sends a bearer token: docs/observability.md)
    Instrumentator(should_group_status_codes=False, excluded_handlers=["/metrics", "/healthz"]).instrument(
        app).expose(app, include_in_schema=False, dependencies=[Depends(caller)])
    errors.install(app)
    openapi.install(app)
    app.include_router(router)
    app.include_router(webhooks_router)
    app.include_router(dlq_router)
    app.include_router(members_router)
    app.include_router(signin_router)

    @app.get("/asyncapi.json", tags=["ops"], operation_id="getAsyncApi",
             summary="The bus as an AsyncAPI 3 document: subjects, consumers, payload schemas",
             responses={200: {"description": "The AsyncAPI document.",
                              "content": {"application/json": {"schema": {"type": "object"}}}}})
    async def asyncapi() -> Response:
        return Response(asyncapi_json(settings), media_type="application/json")

    @app.get("/status", tags=["ops"], summary="Health of each service, consumer lag per durable, dead letters, "
                                              "the oldest waiting gate", operation_id="getStatus",
             **openapi.typed(api.PlatformStatus))
    async def status(request: Request, who: Principal = Depends(caller)) -> dict:
        deps = app.state.deps
        doc = await platform_status(deps.pool, deps.js, deps.settings.stream_name)
        oldest = (doc.get("gates") or {}).get("oldest")
        if oldest and not is_admin(request, who):
            # which project waits is the operators' to know (AMP_ADMINS); others see how long only
            doc["gates"]["oldest"] = {k: v for k, v in oldest.items() if not k.endswith("_id")}
        return jsonable_encoder(doc)

    @app.get("/pipeline", tags=["ops"], summary="The pipeline: its stages, nodes, steps and the decision-set lifecycle",
             operation_id="getPipeline", **openapi.typed(api.PipelineView))
    async def pipeline(who: Principal = Depends(caller)) -> dict:
        return pipeline_view()

    if (STATIC / "index.html").exists():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

        @app.get("/", include_in_schema=False)
        async def index() -> FileResponse:
            return FileResponse(STATIC / "index.html")

    return app
