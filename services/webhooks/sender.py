"""One HTTP attempt of a delivery: POST the signed body, read the status, and little else.

httpcore rather than a full client: it follows no redirects, reads no proxy settings from the
environment, and lets the connection step be ours (`GuardedBackend`: addresses are checked when
the socket is opened, so a name that rebinds to a private address after it was saved is still
refused). The whole attempt has one time limit; of the receiver's body only the first bytes are
read, for the delivery log.
"""

from __future__ import annotations

import asyncio
import ssl
import time

import httpcore
from amp_domain.webhooks import TargetPolicy
from amp_runtime.netguard import GuardedBackend, RefusedTarget

from .nodes import MAX_RESPONSE_CHARS, Answer, retry_after

USER_AGENT = "amp-webhooks/1"


class Sender:
    def __init__(self, policy: TargetPolicy, timeout_s: float = 10.0, max_connections: int = 32) -> None:
        self.timeout_s = timeout_s
        self.pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(), max_connections=max_connections, keepalive_expiry=30.0,
            retries=0, network_backend=GuardedBackend(policy))

    async def close(self) -> None:
        await self.pool.aclose()

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Answer:
        started = time.perf_counter()
        t = self.timeout_s
        all_headers = [(b"content-type", b"application/json"), (b"user-agent", USER_AGENT.encode()),
                       *((k.encode(), v.encode()) for k, v in headers.items())]
        try:
            async with asyncio.timeout(t):
                async with self.pool.stream("POST", url, headers=all_headers, content=body,
                                            extensions={"timeout": {"connect": t, "read": t, "write": t, "pool": t}}
                                            ) as response:
                    head = bytearray()
                    async for chunk in response.aiter_stream():
                        head += chunk
                        if len(head) >= MAX_RESPONSE_CHARS:
                            break
                    found = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
                    return Answer(status_code=response.status, latency_ms=_ms(started),
                                  response=bytes(head[:MAX_RESPONSE_CHARS]).decode("utf-8", "replace") or None,
                                  retry_after_s=retry_after(found.get("retry-after")))
        except RefusedTarget as e:
            return Answer(None, _ms(started), error=f"refused: {e}", refused=True)
        except (TimeoutError, httpcore.TimeoutException):
            return Answer(None, _ms(started), error=f"timed out after {t:g} s")
        except (httpcore.UnsupportedProtocol, httpcore.LocalProtocolError) as e:
            return Answer(None, _ms(started), error=f"bad URL: {e}", refused=True)
        except (httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError, OSError) as e:
            return Answer(None, _ms(started), error=f"{type(e).__name__}: {e}"[:500])


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
