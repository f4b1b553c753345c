"""The gateway's OpenAPI document: what each route answers, and only the errors it can answer.

Routes declare their summary, operation id, response model and the errors of their own logic
(`errors(404, 409)`); what follows from how a route is wired is added here, in one place, from
the route itself, so the document cannot drift from the code:

- a route behind `caller` needs the bearer token: the `bearer` security scheme, 401, and 503
  (the database briefly unreachable);
- a write behind `caller` also counts against the caller's rate limit (429) and, signed in by
  the page's cookie, needs the `X-AMP-Request` header (403);
- a route scoped to a project or a decision set answers 404 to non-members and 403 to members
  without the role;
- a write with a body can be refused for its size (413); a route with validated parameters or a
  body can be refused for them (422);
- a command accepting `Idempotency-Key` answers 409 while the first request with the key runs,
  and 422 when the key comes back with another body.

Every error is documented with the error model (`ErrorResponse`); FastAPI's own validation-error
schema is not used (the gateway never answers it).
"""

from __future__ import annotations

from typing import Any

from amp_contracts import ErrorResponse, api
from fastapi import FastAPI, Header, routing
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.routing import APIRoute

from .auth import caller

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
EXTRA_MODELS = (api.DiffDocument,)
WITH_BODY = {"POST", "PUT", "PATCH"}

DESCRIPTIONS = {
    400: "The request names a host this gateway does not serve.",
    401: "No bearer token, or one that does not check out (`WWW-Authenticate: Bearer`).",
    402: "The project's LLM budget cannot pay for what the request would start.",
    403: "The caller's role does not allow this (or a cookie-signed write lacks `X-AMP-Request`).",
    404: "Not found, or not visible to the caller (existence is not revealed to non-members).",
    409: "The state does not allow it now (a gate already decided or not waiting, a concurrent change, "
         "or a request with this Idempotency-Key still running).",
    413: "The request body is too large.",
    422: "The request is invalid: the message names the field (the details list every problem).",
    429: "Too many writes (or open streams) for this caller: retry after `Retry-After` seconds.",
    503: "The platform is briefly unavailable (database or bus): retry after `Retry-After` seconds.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error responses a route's own logic can answer, each with the error model."""
    return {code: {"model": ErrorResponse, "description": DESCRIPTIONS[code]} for code in codes}


def typed(model: type) -> dict[str, Any]:
    """A route's response model: the answer is validated against it, and only the fields it set are sent."""
    return {"response_model": model, "response_model_exclude_unset": True}


async def idempotency_key(idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", description="Makes the command safe to retry: a repeat with the same key "
        "and body gets the first answer again (`Idempotent-Replayed: true`) instead of running twice; keys are "
        "the caller's own and expire after 24 h. 1-200 printable characters.")) -> str | None:
    """Declares the header on the commands that accept it; `idempotency.command` reads and checks it."""
    return idempotency_key


class EventStream(Response):
    media_type = "text/event-stream"


class Zip(Response):
    media_type = "application/zip"


class Diff(Response):
    media_type = "text/x-diff"


def api_routes(app: FastAPI) -> list[Any]:
    """Every API route as served (with the dependencies of the routers it was included through)."""
    iterate = getattr(routing, "iter_route_contexts", None)
    if iterate is None:  # FastAPI before included routers were kept as such
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [ctx for ctx in iterate(app.routes) if isinstance(ctx.original_route, APIRoute)]


def _walk(dependant: Any) -> list[Any]:
    out = [dependant.call]
    for d in dependant.dependencies:
        out.extend(_walk(d))
    return out


def _facts(route: Any) -> dict[str, bool]:
    calls = _walk(route.dependant)
    validated = bool(route.body_field) or any(
        p for p in (*route.dependant.query_params, *route.dependant.header_params, *route.dependant.cookie_params))
    validated = validated or any(p.field_info.annotation not in (str,) for p in route.dependant.path_params)
    return {"caller": caller in calls, "scoped": any(getattr(c, "scoped", False) for c in calls),
            "idempotent": idempotency_key in calls, "validated": validated}


def _error_ref() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}


def document(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes,
                       tags=app.openapi_tags)
    spec.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
        "type": "http", "scheme": "bearer",
        "description": "A JWT of the configured issuer (`amp token` on a local stack) or a project API key "
                       "(`ampk_…`). The web page's session cookie is accepted too."}
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        facts = _facts(route)
        for method in route.methods:
            op = spec["paths"][route.path_format][method.lower()]
            codes: set[int] = set()
            if facts["caller"]:
                op["security"] = [{"bearer": []}]
                codes |= {401, 503}
                if method in UNSAFE:
                    codes |= {403, 429}
            if facts["scoped"]:
                codes |= {403, 404}
            if method in WITH_BODY:
                codes.add(413)
            if facts["validated"]:
                codes.add(422)
            if facts["idempotent"]:
                codes |= {409, 422}
            responses = op["responses"]
            auto = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if auto.get("$ref", "").endswith("/HTTPValidationError"):  # FastAPI's own, for any route with parameters
                del responses["422"]
            for code in sorted(codes):
                responses.setdefault(str(code), {"description": DESCRIPTIONS[code], "content": _error_ref()})
            for code, response in responses.items():
                if code[0] in "45":  # every error in the error model, FastAPI's own validation schema never
                    response["content"] = _error_ref()
    schemas = spec["components"].setdefault("schemas", {})
    for model in EXTRA_MODELS:  # answers of routes that build their response themselves (several media types)
        doc = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        schemas.update(doc.pop("$defs", {}))
        schemas[model.__name__] = doc
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return spec


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["errors", "typed", "idempotency_key", "EventStream", "Zip", "Diff", "install"]
