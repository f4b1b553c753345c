"""A gateway configured for an external OpenID Connect issuer (the tests' own, on loopback).

It accepts that issuer's tokens (RS256 and ES256, found through discovery), picks up a rotated
key without a restart, refuses the embedded issuer's tokens and serves no keys of its own.
"""

from __future__ import annotations

import httpx
import pytest
from amp_runtime.embedded import free_port

from tests.fakes.oidc_issuer import Issuer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def issuer():
    with Issuer(audience="amp-api") as i:
        yield i


@pytest.fixture(scope="module")
def oidc_gateway(stack, issuer, tmp_path_factory):
    from amp_cli.stack import Stack

    s = Stack(stack.settings.model_copy(update={
        "gateway_port": free_port(), "data_dir": tmp_path_factory.mktemp("oidc"),
        "oidc_issuer": issuer.url, "oidc_audience": "amp-api"}))
    s.start_services(agents=(), gateway=True)
    yield s
    s.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_issuers_tokens_sign_in_and_rotation_needs_no_restart(oidc_gateway, issuer, stack) -> None:
    with httpx.Client(base_url=oidc_gateway.gateway_url, timeout=30) as http:
        me = http.get("/me", headers=bearer(issuer.token("kc-alice", email="alice@example.com", name="Alice")))
        assert me.status_code == 200, me.text
        assert me.json() == {**me.json(), "user_id": "kc-alice", "email": "alice@example.com", "name": "Alice"}
        made = http.post("/projects", json={"name": "from keycloak"}, headers=bearer(issuer.token("kc-alice")))
        assert made.status_code == 201 and made.json()["owner_id"] == "kc-alice"
        assert http.get(f"/projects/{made.json()['id']}", headers=bearer(issuer.token("kc-bob"))).status_code == 404

        kid = issuer.rotate("ES256")  # the old key is withdrawn, a new EC key signs
        r = http.get("/me", headers=bearer(issuer.token("kc-carol", kid=kid)))
        assert r.status_code == 200 and r.json()["user_id"] == "kc-carol", r.text

        # a token of an unknown key (here the embedded issuer's) cannot make the gateway refetch again at once
        fetches = issuer.jwks_fetches
        for bad in (issuer.token(ttl_s=-300), issuer.token(aud="other"), issuer.token(iss="https://evil.example"),
                    stack.token("embedded-user"), stack.token("embedded-user-2")):
            r = http.get("/me", headers=bearer(bad))
            assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]
        assert issuer.jwks_fetches == fetches
        assert http.get("/.well-known/jwks.json").status_code == 404  # the issuer publishes the keys, not us

