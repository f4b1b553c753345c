"""Every route of the gateway needs a signed-in caller, except the few that must be public.

A route added without `caller` (directly or through `on_project` / `on_decision_set`) fails here,
before it can ship open to anyone who reaches the port.
"""

from __future__ import annotations

from collections.abc import Iterator

from amp_runtime.settings import Settings
from fastapi.routing import APIRoute

from services.gateway.app import create_app
from services.gateway.auth import caller

PUBLIC = {("GET", "/healthz"), ("GET", "/"), ("GET", "/asyncapi.json"), ("GET", "/signin"),
          ("GET", "/.well-known/openid-configuration"), ("GET", "/.well-known/jwks.json"),
          ("POST", "/auth/session"), ("DELETE", "/auth/session")}


def _routes(routes, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for r in routes:
        if isinstance(r, APIRoute):
            yield prefix + r.path, r
        for attr in ("original_router", "router"):
            inner = getattr(r, attr, None)
            if inner is not None and hasattr(inner, "routes"):
                yield from _routes(inner.routes, prefix + getattr(inner, "prefix", ""))
                break


def _needs_caller(dep) -> bool:
    return dep.call is caller or any(_needs_caller(d) for d in dep.dependencies)


def test_only_the_public_routes_are_open(tmp_path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    open_routes = {(m, path) for path, r in _routes(app.routes) if not _needs_caller(r.dependant) for m in r.methods}
    assert open_routes == PUBLIC
    assert len({path for path, _ in _routes(app.routes)}) > 30  # the walk found the routers' routes
