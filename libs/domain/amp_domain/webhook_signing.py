"""Standard Webhooks signatures: `v1,` base64(HMAC-SHA256(secret, "{webhook-id}.{webhook-timestamp}.{body}")).

Secrets are `whsec_` + base64 of 32 random bytes, one per subscription. While a rotated secret
overlaps with its successor, both sign and both signatures travel in `webhook-signature`
(space-separated), so a receiver can switch its secret without missing a delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _random
from collections.abc import Iterable

from amp_contracts import HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, SECRET_PREFIX

SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    return base64.b64decode(raw)


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt (the timestamp is the attempt's, the id the event's)."""
    return {HEADER_ID: msg_id, HEADER_TIMESTAMP: str(timestamp),
            HEADER_SIGNATURE: " ".join(signature(s, msg_id, timestamp, body) for s in secrets)}
