"""Authentication and authorization at the gateway: who calls, and what they may do on a project.

Every route but the public ones (health, the page shell, the API documents, the issuer's keys)
depends on `caller`. Project-scoped routes depend on `on_project(action)` or
`on_decision_set(action)`, which decide in one place: a non-member gets 404 (existence is not
revealed), a member without the role gets 403 (roles in `amp_domain.access`).

Credentials: `Authorization: Bearer <JWT>` (external OIDC or the embedded issuer), a project API
key as the bearer (`ampk_…`, only its hash is stored), or the web page's session cookie. A
cookie-authenticated write must also carry `X-AMP-Request` (no cross-site form can add it) on
top of the cookie's SameSite=Strict.
"""

from __future__ import annotations

import hmac
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from amp_contracts import Forbidden, NotFound, RateLimited, Unauthorized
from amp_domain.access import Action, can
from amp_runtime import store
from amp_runtime.identity import (
    AuthError,
    EmbeddedIssuer,
    Principal,
    Verifier,
    api_key_id,
    embedded_verifier,
    external_verifier,
    hash_api_key,
)
from amp_runtime.settings import Settings
from amp_runtime.telemetry import bind_log_context
from fastapi import Depends, Request

COOKIE = "amp_session"
CSRF_HEADER = "X-AMP-Request"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RateLimiter:
    """A sliding window per user: at most `limit` writes in `window_s` (per gateway process)."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def check(self, user: str) -> None:
        now = time.monotonic()
        hits = self._hits[user]
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            wait = max(1.0, hits[0] + self.window_s - now)
            raise RateLimited(f"more than {self.limit} writes in {self.window_s:.0f} s; slow down",
                              retry_after_s=float(int(wait + 0.999)))
        hits.append(now)
        if len(self._hits) > 100_000:  # bounded memory under a flood of identities
            self._hits.clear()


class StreamSlots:
    """A cap on the SSE streams one user holds open at once (each holds a connection and a queue)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open: dict[str, int] = defaultdict(int)

    def take(self, user: str) -> None:
        if self.open[user] >= self.limit:
            raise RateLimited(f"{self.limit} streams are already open for you; close one first", retry_after_s=5.0)
        self.open[user] += 1

    def give_back(self, user: str) -> None:
        self.open[user] -= 1
        if self.open[user] <= 0:
            self.open.pop(user, None)


@dataclass
class Auth:
    verifier: Verifier
    issuer: EmbeddedIssuer | None
    limiter: RateLimiter
    streams: StreamSlots

    @classmethod
    def from_settings(cls, settings: Settings) -> Auth:
        if settings.oidc:
            if not settings.oidc_audience:
                raise RuntimeError("AMP_OIDC_AUDIENCE must be set with AMP_OIDC_ISSUER")
            verifier, issuer = external_verifier(settings.oidc_issuer or "", settings.oidc_audience,
                                                 settings.oidc_jwks_url), None
        else:
            issuer = EmbeddedIssuer.load(settings.data_dir)
            verifier = embedded_verifier(issuer)
        return cls(verifier, issuer, RateLimiter(settings.rate_limit_per_min),
                   StreamSlots(settings.sse_streams_per_user))


def _auth(request: Request) -> Auth:
    return request.app.state.auth


def _credentials(request: Request) -> tuple[str | None, bool]:
    """(token, from the cookie)."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use Authorization: Bearer <token>")
        return token.strip(), False
    cookie = request.cookies.get(COOKIE)
    return (cookie, True) if cookie else (None, False)


async def authenticate(request: Request, token: str) -> Principal:
    kid = api_key_id(token)
    if kid is not None:
        row = await store.live_api_key(request.app.state.deps.pool, kid)
        if row is None or not hmac.compare_digest(row["key_hash"], hash_api_key(token)):
            raise Unauthorized("the API key is unknown, revoked or expired")
        return Principal(sub=f"apikey:{row['id']}", name=row["name"], api_key_id=row["id"],
                         project_id=row["project_id"], role=row["role"])
    try:
        return await _auth(request).verifier.verify(token)
    except AuthError as e:
        raise Unauthorized(str(e)) from None


async def caller(request: Request) -> Principal:
    """The authenticated caller (401 otherwise); writes count against the caller's rate limit."""
    token, from_cookie = _credentials(request)
    if not token:
        raise Unauthorized("sign in: send Authorization: Bearer <token> (`amp token` mints one on a local stack)")
    who = await authenticate(request, token)
    if from_cookie and request.method in UNSAFE and not request.headers.get(CSRF_HEADER):
        raise Forbidden(f"a write signed in by cookie must carry the {CSRF_HEADER} header")
    request.state.user_id = who.sub
    bind_log_context(user_id=who.sub)
    if request.method in UNSAFE:
        _auth(request).limiter.check(who.sub)
    return who


@dataclass(frozen=True)
class Access:
    """A caller's standing on one project, once authorized for an action."""

    who: Principal
    project_id: str
    role: str

    @property
    def user_id(self) -> str:
        return self.who.sub


def is_admin(request: Request, who: Principal) -> bool:
    """An operator of the platform (`AMP_ADMINS`): sees what spans projects, such as dead letters."""
    return who.api_key_id is None and who.sub in request.app.state.deps.settings.admins


def _decide(who: Principal, project_id: str, role: str | None, action: Action, what: str) -> Access:
    if role is None:
        raise NotFound(f"{what} not found")
    if not can(role, action):
        raise Forbidden(f"your role on this project ({role}) does not allow this")
    return Access(who, project_id, role)


async def role_on_project(request: Request, who: Principal, project_id: str) -> str | None:
    if who.api_key_id is not None:
        return who.role if who.project_id == project_id else None
    return await store.member_role(request.app.state.deps.pool, project_id, who.sub)


async def authorize(request: Request, who: Principal, project_id: str, action: Action) -> Access:
    role = await role_on_project(request, who, project_id)
    return _decide(who, project_id, role, action, f"project {project_id}")


def on_project(action: Action) -> Any:
    """A dependency: the caller may do `action` on the path's project."""

    async def dep(request: Request, project_id: str, who: Principal = Depends(caller)) -> Access:
        return await authorize(request, who, project_id, action)

    dep.scoped = True  # type: ignore[attr-defined]  # the OpenAPI document: 404 to non-members, 403 to other roles
    return Depends(dep)


async def decision_set_access(request: Request, who: Principal, ds_id: str, action: Action) -> Access:
    found = await store.decision_set_access(request.app.state.deps.pool, ds_id, who.sub)
    if found is None:
        raise NotFound(f"decision set {ds_id} not found")
    project_id, role = found
    if who.api_key_id is not None:
        role = who.role if who.project_id == project_id else None
    return _decide(who, project_id, role, action, f"decision set {ds_id}")


def on_decision_set(action: Action) -> Any:
    """A dependency: the caller may do `action` on the path's decision set's project."""

    async def dep(request: Request, ds_id: str, who: Principal = Depends(caller)) -> Access:
        return await decision_set_access(request, who, ds_id, action)

    dep.scoped = True  # type: ignore[attr-defined]
    return Depends(dep)
