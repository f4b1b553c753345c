"""The validation runner: untrusted runs in a process (and, on Kubernetes, a pod) of their own.

`amp serve validation-runner` answers `POST /run` with a tree and the steps to run in it (the
training entry point, the generated tests) and runs them with `Sandbox.run_untrusted`, under
bubblewrap, exactly as the validators would locally. It holds no secret, no database URL and no
bus connection, so on Kubernetes it can live in a pod with no service-account token and a
NetworkPolicy that denies all egress (deploy/kubernetes/validation-runner.yaml). The validators
send their untrusted runs here when `AMP_SANDBOX_RUNNER_URL` is set (see `remote.py`).

Where this host cannot isolate either, `/run` answers 503 `no_isolation` with the reason and the
validators report the check `skipped`: the runner never runs code bare.
"""

from __future__ import annotations

import asyncio
from typing import Any

from amp_domain.paths import UnsafePath
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from . import isolation as iso
from .remote import PYTHON, RunRequest, from_wire, result_to_wire
from .sandbox import Sandbox

#: Largest request accepted: the validators' input limits (64 MiB of tree) plus JSON overhead.
MAX_BODY = 80 * 1024 * 1024
#: Untrusted runs at once; more wait (each is CPU-bound and memory-hungry).
CONCURRENCY = 2


class Health(BaseModel):
    available: bool
    isolation: str
    interpreter: str = Field(PYTHON, description="The token steps use for this runner's interpreter.")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "retry_after_s": None, "run_id": None,
                                   "node_name": "validators"}}, status_code=status)


def create_app() -> FastAPI:
    app = FastAPI(title="AMP validation runner", docs_url=None, redoc_url=None)
    slots = asyncio.Semaphore(CONCURRENCY)

    @app.get("/healthz")
    async def healthz() -> Health:
        found = iso.isolation()
        return Health(available=found.available, isolation=found.label)

    @app.get("/readyz")
    async def readyz() -> Any:
        """Ready only where it can isolate: a runner that cannot takes no traffic."""
        found = iso.isolation()
        if not found.available:
            return _error(503, "no_isolation", found.reason)
        return Health(available=True, isolation=found.label)

    @app.post("/run")
    async def run(request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > MAX_BODY:
            return _error(413, "payload_too_large", f"a run request is at most {MAX_BODY} bytes, with Content-Length")
        try:
            body = RunRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return _error(422, "validation_failed", str(exc.errors()[:5]))
        found = iso.isolation()
        if not found.available:
            return _error(503, "no_isolation", found.reason)

        def execute() -> list[dict[str, Any]]:
            with Sandbox(body.files, prefix="amp-runner-") as sandbox:
                return [result_to_wire(r) for r in sandbox.run_untrusted(from_wire(body.steps),
                                                                         memory_mb=body.memory_mb)]

        async with slots:
            try:
                results = await asyncio.to_thread(execute)
            except UnsafePath as exc:
                return _error(422, "validation_failed", f"unsafe path in the tree: {exc}")
        return {"isolation": found.label, "results": results}

    return app
