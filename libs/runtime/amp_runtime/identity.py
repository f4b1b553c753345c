"""Who is calling: bearer tokens (JWTs) checked against an OIDC issuer's keys, or the embedded issuer's.

Two setups share one verifier:

- **External OIDC** (`AMP_OIDC_ISSUER`, `AMP_OIDC_AUDIENCE`): the keys come from the issuer's
  discovery document (`jwks_uri`) or `AMP_OIDC_JWKS_URL`; they are cached, and a token signed
  with a key id the cache does not know refetches them (at most once per `refresh_interval_s`, 10 s,
  so a flood of forged key ids cannot turn the gateway into a load generator against the issuer).
- **Embedded** (no OIDC configured): the platform signs its own tokens with an ES256 key
  generated into the data directory (mode 0600); `amp token` and the CLI mint with it.

PyJWT does the cryptography and the claim checks (signature, `exp`, `nbf`, `iss`, `aud` with a
small leeway, an algorithm allow-list so `none` and HMAC-with-a-public-key never verify); the
JWKS is fetched here with httpx so the event loop never blocks on PyJWKClient's urllib.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

#: Asymmetric algorithms only: a token naming `none` or `HS256` is refused before any key is tried.
ALGORITHMS = ["RS256", "ES256", "RS384", "ES384", "PS256"]
LEEWAY_S = 30.0
EMBEDDED_ISSUER = "amp-embedded"
EMBEDDED_AUDIENCE = "amp"
API_KEY_PREFIX = "ampk_"


class AuthError(Exception):
    """The token is missing, malformed, unsigned, expired, or not ours. The message is safe to show."""


@dataclass(frozen=True)
class Principal:
    """The caller. `sub` is the user id everywhere (members, approvals, events, logs)."""

    sub: str
    email: str | None = None
    name: str | None = None
    #: an API key is scoped to one project and one role; a user's roles come from memberships
    api_key_id: str | None = None
    project_id: str | None = None
    role: str | None = None
    expires_at: float | None = None

    @property
    def label(self) -> str:
        return self.name or self.email or self.sub


# --- secrets in the data directory ----------------------------------------------------------

def secrets_dir(data_dir: Path) -> Path:
    path = Path(data_dir) / "secrets"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def read_or_create_secret(path: Path, make: Callable[[], bytes]) -> bytes:
    """The secret in `path`, created once with mode 0600 (an exclusive create: two processes
    starting together end up with the same secret, never two)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the creator may still be writing it
            data = path.read_bytes()
            if data:
                return data
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty") from None
    data = make()
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return data


def new_password() -> bytes:
    return secrets.token_urlsafe(24).encode()


# --- the embedded issuer --------------------------------------------------------------------

def _b64(n: int, size: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode()


@dataclass
class EmbeddedIssuer:
    """The platform's own token issuer for a stack without external OIDC."""

    key: ec.EllipticCurvePrivateKey
    issuer: str = EMBEDDED_ISSUER
    audience: str = EMBEDDED_AUDIENCE

    @classmethod
    def load(cls, data_dir: Path) -> EmbeddedIssuer:
        def make() -> bytes:
            return ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

        pem = read_or_create_secret(secrets_dir(data_dir) / "issuer-es256.pem", make)
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cls(key)

    @property
    def public_jwk(self) -> dict[str, Any]:
        nums = self.key.public_key().public_numbers()
        jwk = {"kty": "EC", "crv": "P-256", "x": _b64(nums.x, 32), "y": _b64(nums.y, 32)}
        # RFC 7638 thumbprint as the key id: stable for the key, different for a new one
        canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
        thumb = hashlib.sha256(canonical.encode())
        return {**jwk, "kid": base64.urlsafe_b64encode(thumb.digest()).rstrip(b"=").decode(), "use": "sig",
                "alg": "ES256"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def mint(self, sub: str, ttl_s: float = 12 * 3600, *, name: str | None = None, email: str | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": self.audience, "sub": sub, "iat": now, "nbf": now,
                                  "exp": now + int(ttl_s), "jti": secrets.token_hex(8)}
        if name:
            claims["name"] = name
        if email:
            claims["email"] = email
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.public_jwk["kid"]})


# --- key sources ----------------------------------------------------------------------------

class KeySource:
    async def key(self, kid: str | None) -> jwt.PyJWK:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class StaticKeys(KeySource):
    jwks: dict[str, Any]

    def __post_init__(self) -> None:
        self._set = jwt.PyJWKSet.from_dict(self.jwks)

    async def key(self, kid: str | None) -> jwt.PyJWK:
        return _pick(self._set, kid)


def _pick(keys: jwt.PyJWKSet, kid: str | None) -> jwt.PyJWK:
    if kid is None:
        if len(keys.keys) == 1:
            return keys.keys[0]
        raise AuthError("the token names no key (kid) and the issuer has several")
    for k in keys.keys:
        if k.key_id == kid:
            return k
    raise KeyError(kid)


@dataclass
class RemoteJwks(KeySource):
    """An issuer's JWKS over HTTPS, cached; an unknown `kid` refetches it, rate-limited."""

    issuer: str
    jwks_url: str | None = None
    max_age_s: float = 3600.0
    refresh_interval_s: float = 10.0
    timeout_s: float = 5.0
    _set: jwt.PyJWKSet | None = field(default=None, repr=False)
    _fetched_at: float = field(default=-1e18, repr=False)
    _forced_at: float = field(default=-1e18, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def _jwks_uri(self, http: httpx.AsyncClient) -> str:
        if self.jwks_url:
            return self.jwks_url
        r = await http.get(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        r.raise_for_status()
        doc = r.json()
        if doc.get("issuer", "").rstrip("/") != self.issuer.rstrip("/"):
            raise AuthError("the issuer's discovery document names another issuer")
        self.jwks_url = doc["jwks_uri"]
        return self.jwks_url

    async def refresh(self, force: bool = False) -> None:
        """Fetch the keys when they are older than `max_age_s`; `force` (an unknown key id) fetches them
        at once, unless another forced fetch happened in the last `refresh_interval_s`."""
        async with self._lock:
            now = time.monotonic()
            if self._set is not None:
                if force and now - self._forced_at < self.refresh_interval_s:
                    return
                if not force and now - self._fetched_at < self.max_age_s:
                    return
            if force:
                self._forced_at = now
            try:
                async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                    r = await http.get(await self._jwks_uri(http))
                    r.raise_for_status()
                    self._set = jwt.PyJWKSet.from_dict(r.json())
            except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWKSetError) as e:
                self._fetched_at = now  # a failing issuer is not asked again at once either
                if self._set is None:
                    raise AuthError(f"the issuer's keys cannot be fetched ({type(e).__name__})") from None
                return
            self._fetched_at = now

    async def key(self, kid: str | None) -> jwt.PyJWK:
        await self.refresh()
        assert self._set is not None
        try:
            return _pick(self._set, kid)
        except KeyError:
            await self.refresh(force=True)  # key rotation: the issuer published a new key
            return _pick(self._set, kid)


# --- the verifier ---------------------------------------------------------------------------

@dataclass
class Verifier:
    issuer: str
    audience: str
    keys: KeySource
    leeway_s: float = LEEWAY_S
    _cache: dict[str, tuple[float, Principal]] = field(default_factory=dict, repr=False)

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; `AuthError` otherwise. Verified tokens are remembered
        until they expire (a bounded cache), so a stream of requests pays the signature once."""
        hit = self._cache.get(token)
        if hit is not None and hit[0] > time.time():
            return hit[1]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("the bearer token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise AuthError(f"tokens signed with {header.get('alg')!r} are not accepted")
        try:
            key = await self.keys.key(header.get("kid"))
        except KeyError:
            raise AuthError("the token was signed with a key the issuer does not publish") from None
        try:
            claims = jwt.decode(token, key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                                leeway=self.leeway_s, options={"require": ["exp", "sub", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise AuthError("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError("the token is from another issuer") from None
        except jwt.PyJWTError as e:
            raise AuthError(f"the token is invalid ({type(e).__name__})") from None
        sub = str(claims["sub"])
        if not sub or len(sub) > 200:
            raise AuthError("the token's subject is empty or too long")
        who = Principal(sub=sub, email=_short(claims.get("email")), name=_short(claims.get("name")),
                        expires_at=float(claims["exp"]))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (float(claims["exp"]), who)
        return who


def _short(value: Any) -> str | None:
    return str(value)[:200] if value else None


def external_verifier(issuer: str, audience: str, jwks_url: str | None = None) -> Verifier:
    return Verifier(issuer=issuer, audience=audience, keys=RemoteJwks(issuer, jwks_url))


def embedded_verifier(issuer: EmbeddedIssuer) -> Verifier:
    return Verifier(issuer=issuer.issuer, audience=issuer.audience, keys=StaticKeys(issuer.jwks()))


# --- API keys -------------------------------------------------------------------------------

def new_api_key(key_id: str) -> tuple[str, str]:
    """(the key shown once, its hash stored). The secret part has 256 bits, so one SHA-256 suffices."""
    key = f"{API_KEY_PREFIX}{key_id.replace('-', '')}_{secrets.token_urlsafe(32)}"
    return key, hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_id(key: str) -> str | None:
    """The key's id (its public part), to find its row; None when it is not shaped like one of ours."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    raw = key[len(API_KEY_PREFIX):].split("_", 1)[0]
    if len(raw) != 32 or any(c not in "0123456789abcdef" for c in raw):
        return None
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
