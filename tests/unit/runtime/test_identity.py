"""Token checks against an issuer of the tests' own, over real HTTP on loopback (no servers of ours).

Valid RS256 and ES256 tokens pass; expired, not-yet-valid, wrong-audience, wrong-issuer,
unsigned (`alg: none`), HMAC-with-the-public-key and tampered tokens fail with a reason; an unknown
key id refetches the keys once (rotation without a restart) and a flood of unknown ids does not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat

import jwt
import pytest
from amp_runtime.identity import (
    AuthError,
    EmbeddedIssuer,
    RemoteJwks,
    Verifier,
    api_key_id,
    embedded_verifier,
    external_verifier,
    hash_api_key,
    new_api_key,
)

from tests.fakes.oidc_issuer import Issuer


@pytest.fixture()
def issuer():
    with Issuer() as i:
        yield i


async def test_valid_rs256_and_es256_tokens(issuer) -> None:
    v = external_verifier(issuer.url, issuer.audience)  # keys found through discovery
    who = await v.verify(issuer.token("alice", email="alice@example.com", name="Alice"))
    assert (who.sub, who.email, who.name) == ("alice", "alice@example.com", "Alice")
    ec_kid = issuer.rotate("ES256", keep_old=True)
    fresh = external_verifier(issuer.url, issuer.audience)
    assert (await fresh.verify(issuer.token("bob", kid=ec_kid))).sub == "bob"


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"ttl_s": -120}, "expired"),
    ({"nbf_in_s": 600}, "not valid yet"),
    ({"aud": "someone-else"}, "audience"),
    ({"iss": "https://evil.example"}, "issuer"),
])
async def test_bad_claims_are_refused(issuer, kwargs, reason) -> None:
    v = external_verifier(issuer.url, issuer.audience)
    with pytest.raises(AuthError, match=reason):
        await v.verify(issuer.token(**kwargs))


async def test_small_clock_skew_is_tolerated(issuer) -> None:
    v = external_verifier(issuer.url, issuer.audience)
    assert (await v.verify(issuer.token(ttl_s=-5))).sub == "alice"  # expired 5 s ago: within the leeway


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


async def test_unsigned_hmac_and_tampered_tokens_are_refused(issuer) -> None:
    v = external_verifier(issuer.url, issuer.audience)
    good = issuer.token()
    claims = jwt.decode(good, options={"verify_signature": False})
    none_token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(AuthError, match="not accepted"):
        await v.verify(none_token)
    # the public key as an HMAC secret: the classic algorithm confusion
    signing_input = f"{_b64({'alg': 'HS256', 'kid': issuer.keys[0][0]})}.{_b64(claims)}"
    public = json.dumps(issuer.jwks()["keys"][0]).encode()
    mac = base64.urlsafe_b64encode(hmac.new(public, signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=")
    with pytest.raises(AuthError, match="not accepted"):
        await v.verify(f"{signing_input}.{mac.decode()}")
    head, _, sig = good.split(".")
    forged = f"{head}.{_b64({**claims, 'sub': 'mallory'})}.{sig}"
    with pytest.raises(AuthError, match="invalid"):
        await v.verify(forged)
    with pytest.raises(AuthError, match="not a JWT"):
        await v.verify("not-a-token")


async def test_rotation_refetches_once_and_unknown_kids_are_rate_limited(issuer) -> None:
    v = Verifier(issuer=issuer.url, audience=issuer.audience,
                 keys=RemoteJwks(issuer.url, f"{issuer.url}/keys", refresh_interval_s=0.0))
    await v.verify(issuer.token())
    assert issuer.jwks_fetches == 1
    await v.verify(issuer.token("carol"))
    assert issuer.jwks_fetches == 1  # cached
    issuer.rotate()  # the old key is gone, a new one signs
    assert (await v.verify(issuer.token("dave"))).sub == "dave"
    assert issuer.jwks_fetches == 2

    limited = Verifier(issuer=issuer.url, audience=issuer.audience,
                       keys=RemoteJwks(issuer.url, f"{issuer.url}/keys", refresh_interval_s=3600.0))
    await limited.verify(issuer.token())
    before = issuer.jwks_fetches
    stranger = Issuer()  # a key the issuer never published, under many ids
    for _ in range(20):
        kid = stranger.add_key()
        with pytest.raises(AuthError, match="does not publish"):
            await limited.verify(stranger.token(kid=kid, iss=issuer.url))
    assert issuer.jwks_fetches - before <= 1


async def test_an_unreachable_issuer_is_an_auth_error() -> None:
    v = external_verifier("http://127.0.0.1:9", "amp")
    with pytest.raises(AuthError, match="cannot be fetched"):
        await v.verify(_any_token())


def _any_token() -> str:
    from cryptography.hazmat.primitives.asymmetric import ec

    return jwt.encode({"sub": "x", "iss": "http://127.0.0.1:9", "aud": "amp", "exp": 9_999_999_999},
                      ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "k"})


async def test_embedded_issuer_key_is_private_and_stable(tmp_path) -> None:
    a = EmbeddedIssuer.load(tmp_path)
    b = EmbeddedIssuer.load(tmp_path)
    key_file = tmp_path / "secrets" / "issuer-es256.pem"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key_file.parent).st_mode) == 0o700
    assert a.public_jwk["kid"] == b.public_jwk["kid"]
    token = a.mint("erin", 60, name="Erin")
    who = await embedded_verifier(b).verify(token)
    assert (who.sub, who.name) == ("erin", "Erin")
    other = EmbeddedIssuer.load(tmp_path / "elsewhere")
    with pytest.raises(AuthError):
        await embedded_verifier(other).verify(token)


def test_api_keys_are_hashed_and_carry_their_id() -> None:
    key_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    key, digest = new_api_key(key_id)
    assert api_key_id(key) == key_id
    assert digest == hash_api_key(key) and key not in digest
    assert api_key_id("ampk_nothex_x") is None and api_key_id("eyJhbGciOi.x.y") is None
    assert new_api_key(key_id)[0] != key
