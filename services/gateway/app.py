"""The gateway: FastAPI bridging JetStream to REST and SSE, and serving the web page.

Wiring only: settings in, an app out (`create_app(settings)`); the lifespan connects.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware

from amp_contracts import ErrorBody
from amp_runtime.bootstrap import open_deps
from amp_runtime.settings import Settings

from . import errors
from .commands import relay_outbox
from .hub import EventHub
from .routes import router

STATIC = Path(__file__).with_name("static")


class BodyLimit(BaseHTTPMiddleware):
    """Refuse oversized bodies before reading them (413 in the error model)."""

    #: Repository uploads are zips of a whole generated repository.
    UPLOAD_BYTES = 20 * 1024 * 1024

    def __init__(self, app, max_bytes: int) -> None:  # noqa: ANN001
        super().__init__(app)
        self.default_bytes = max_bytes

    async def dispatch(self, request: Request, call_next):  # noqa: ANN001, ANN201
        self.max_bytes = self.UPLOAD_BYTES if request.url.path.endswith("/repo") else self.default_bytes
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return errors.error_response(413, ErrorBody(
                code="payload_too_large", message=f"request body is larger than {self.max_bytes} bytes"))
        if length is None and request.method in ("POST", "PUT", "PATCH"):
            body = await request.body()
            if len(body) > self.max_bytes:
                return errors.error_response(413, ErrorBody(
                    code="payload_too_large", message=f"request body is larger than {self.max_bytes} bytes"))
        return await call_next(request)


def create_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_deps(settings, "gateway") as deps:
            hub = EventHub()
            await hub.start(deps.nc)
            deps.extras["hub"] = hub
            app.state.deps = deps
            relay = asyncio.create_task(relay_outbox(deps.pool, deps.js))
            try:
                yield
            finally:
                relay.cancel()
                await hub.stop()

    app = FastAPI(title="Agentic MLOps Platform", version="0.1.0", lifespan=lifespan,
                  description="Requirements in; a reviewed, costed, policy-checked, generated repository out. "
                              "Errors follow the model {error: {code, message, retry_after_s, run_id, node_name}}.")
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    errors.install(app)
    app.include_router(router)

    @app.get("/asyncapi.json", tags=["ops"])
    async def asyncapi() -> Response:
        from .asyncapi import asyncapi_json

        return Response(asyncapi_json(settings), media_type="application/json")

    if (STATIC / "index.html").exists():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

        @app.get("/", include_in_schema=False)
        async def index() -> FileResponse:
            return FileResponse(STATIC / "index.html")

    return app
