"""The gateway's edge: trusted Host names and security headers, as plain ASGI (SSE passes untouched).

A browser page on an attacker's domain that rebinds its DNS name to 127.0.0.1 still sends its own
name as `Host`; answering only the names we expect (`AMP_ALLOWED_HOSTS`) stops it reading a local
stack. The headers are sent as headers (a meta tag cannot carry `frame-ancestors`).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from amp_contracts import ErrorBody
from amp_runtime.telemetry import bind_log_context

from . import errors

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
#: FastAPI's /docs page loads Swagger UI from a CDN and runs an inline script
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    if "*" in allowed:
        return True
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if host.startswith("[") and "]:" in host:
        name = host.rsplit(":", 1)[0]
    name = name.lower()
    return any(name == a.lower() or (a.startswith(".") and name.endswith(a.lower())) for a in allowed)


class Edge:
    def __init__(self, app: Any, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = tuple(allowed_hosts)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        csp = (DOCS_CSP if scope["path"] in ("/docs", "/redoc") else CSP).encode()
        asked = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = asked if REQUEST_ID.fullmatch(asked) else uuid.uuid4().hex
        bind_log_context(request_id=request_id)  # every log line of this request carries it

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS, (b"content-security-policy", csp),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        # health probes come from the orchestrator by address (a pod IP as Host) and reveal nothing
        if scope["path"] != "/healthz" and not host_allowed(host, self.allowed):
            response = errors.error_response(400, ErrorBody(code="validation_failed", message=(
                f"unknown host {host[:100]!r}; the gateway answers {', '.join(self.allowed)} (AMP_ALLOWED_HOSTS)")))
            return await response(scope, receive, with_headers)
        await self.app(scope, receive, with_headers)
