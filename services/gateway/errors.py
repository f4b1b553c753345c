"""The one place where errors become HTTP responses in the error model's shape. Never a stack trace."""

from __future__ import annotations

import logging

from amp_contracts import AmpError, ErrorBody, ErrorResponse, Unauthorized
from amp_runtime.retry import Failure, classify
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("amp.gateway")

_STATUS_CODES = {400: "validation_failed", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "validation_failed", 409: "conflict",
                 413: "payload_too_large", 415: "validation_failed", 422: "validation_failed", 429: "rate_limited",
                 503: "provider_down"}


#: FastAPI's 400 for a body it cannot decode at all (not UTF-8, say); malformed JSON is a 422, and so is this.
BODY_UNREADABLE = "There was an error parsing the body"


def error_response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    if body.retry_after_s is not None:
        headers = {**(headers or {}), "Retry-After": str(int(body.retry_after_s))}
    # every field of the error model, null where empty, so clients can rely on the shape
    return JSONResponse(ErrorResponse(error=body).model_dump(mode="json"), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(AmpError)
    async def amp_error(request: Request, exc: AmpError) -> JSONResponse:
        headers = None
        if isinstance(exc, Unauthorized):
            sent = "authorization" in request.headers or "amp_session" in request.cookies
            headers = {"WWW-Authenticate": 'Bearer error="invalid_token"' if sent else "Bearer"}
        return error_response(exc.http_status, exc.body(), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": [str(p) for p in e.get("loc", [])], "msg": e.get("msg", ""), "type": e.get("type", "")}
                   for e in exc.errors()[:20]]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(p for p in first["loc"] if p != "body") or "body"
        return error_response(422, ErrorBody(code="validation_failed", message=f"{where}: {first['msg']}",
                                             details=details))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == BODY_UNREADABLE:  # bytes that are not UTF-8 JSON: like bad JSON
            return error_response(422, ErrorBody(code="validation_failed",
                                                 message="body: not a JSON document (UTF-8 text expected)"))
        code = _STATUS_CODES.get(exc.status_code, "validation_failed" if exc.status_code < 500 else "internal")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(exc.status_code, ErrorBody(code=code, message=message))  # type: ignore[arg-type]

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        if classify(exc) is Failure.TRANSIENT:  # the database or the bus is restarting: the same request will work
            log.warning("request failed on a passing fault: %s: %s", type(exc).__name__, exc)
            return error_response(503, ErrorBody(code="unavailable", retry_after_s=1,
                                                 message="the platform is briefly unavailable; retry shortly"))
        log.exception("unhandled error")
        return error_response(500, ErrorBody(code="internal", message="internal error; it has been logged"))
