"""An OpenID Connect issuer of the tests' own, on loopback: discovery, a JWKS, and tokens it signs.

It stands for Cognito, Auth0, Keycloak or Entra: keys are real RSA and EC keys, published as a
JWKS over real HTTP; `rotate()` publishes a new key (the old one can be kept or dropped), and
`jwks_fetches` counts how often a verifier came for the keys.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


class Issuer:
    def __init__(self, audience: str = "amp-api", alg: str = "RS256") -> None:
        self.audience = audience
        self.keys: list[tuple[str, str, Any]] = []  # (kid, alg, private key), published in order
        self.jwks_fetches = 0
        self.add_key(alg)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add_key(self, alg: str = "RS256") -> str:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if alg.startswith("RS") \
            else ec.generate_private_key(ec.SECP256R1())
        kid = uuid.uuid4().hex[:12]
        self.keys.append((kid, alg, key))
        return kid

    def rotate(self, alg: str = "RS256", keep_old: bool = False) -> str:
        kid = self.add_key(alg)
        if not keep_old:
            self.keys = self.keys[-1:]
        return kid

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid, alg, key in self.keys:
            algo = RSAAlgorithm if alg.startswith("RS") else ECAlgorithm
            jwk = json.loads(algo.to_jwk(key.public_key()))
            out.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        return {"keys": out}

    def token(self, sub: str = "alice", *, ttl_s: float = 600, aud: str | None = None, iss: str | None = None,
              kid: str | None = None, nbf_in_s: float = 0, **claims: Any) -> str:
        kid = kid or self.keys[-1][0]
        _, alg, key = next(k for k in self.keys if k[0] == kid)
        now = time.time()
        body = {"iss": iss or self.url, "aud": aud or self.audience, "sub": sub, "iat": int(now),
                "nbf": int(now + nbf_in_s), "exp": int(now + ttl_s), **claims}
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/keys",
                            "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
                elif self.path == "/keys":
                    issuer.jwks_fetches += 1
                    body = issuer.jwks()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> Issuer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
