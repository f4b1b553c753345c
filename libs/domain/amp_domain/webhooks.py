"""Where a webhook may be sent, and when it is tried again: pure rules, no I/O.

A webhook URL is typed by a user and called from inside the platform, so it is a server-side
request forgery vector: only `https://` (plain `http://` when allowed, for development), no
credentials in the URL, and only to globally routable addresses. Loopback, private, link-local,
shared (CGNAT), multicast and reserved addresses are refused unless private targets are allowed
(development and tests); the cloud metadata endpoints are refused always, since no receiver lives
there and they hold credentials.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048

#: Instance metadata services (AWS/GCP/Azure/OpenStack, Alibaba, AWS over IPv6): never a webhook target.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"))

#: The Standard Webhooks example schedule, cut after 10 hours: the delays before retries 1..6.
DEFAULT_RETRY_SCHEDULE_S: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0)


class UnsafeTarget(ValueError):
    """A webhook URL or address the platform will not call."""


@dataclass(frozen=True)
class TargetPolicy:
    allow_http: bool = False
    allow_private: bool = False


def check_url(url: str, policy: TargetPolicy) -> tuple[str, int]:
    """The host and port of an acceptable webhook URL; `UnsafeTarget` says why one is not."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise UnsafeTarget(f"the URL is malformed ({e})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeTarget("the URL must start with https://")
    if scheme == "http" and not policy.allow_http:
        raise UnsafeTarget("the URL must use https:// (plain http:// is allowed only with AMP_WEBHOOK_ALLOW_HTTP=1)")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("the URL must not carry credentials; verify deliveries with the signing secret instead")
    if parts.fragment:
        raise UnsafeTarget("the URL must not have a #fragment")
    host = parts.hostname
    if not host:
        raise UnsafeTarget("the URL has no host")
    literal = _literal(host)
    if literal is not None:
        check_address(literal, policy)
    return host, port or (443 if scheme == "https" else 80)


def check_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address, policy: TargetPolicy) -> None:
    """Refuse an address a webhook must not reach (`UnsafeTarget`); the check the connection makes."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        raise UnsafeTarget(f"{ip} is a cloud metadata address")
    if policy.allow_private:
        return
    if not ip.is_global or ip.is_multicast:
        kind = ("loopback" if ip.is_loopback else "link-local" if ip.is_link_local else
                "private" if ip.is_private else "non-public")
        raise UnsafeTarget(f"{ip} is a {kind} address (allowed only with AMP_WEBHOOK_ALLOW_PRIVATE=1)")


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def parse_schedule(text: str | None) -> tuple[float, ...]:
    """`AMP_WEBHOOK_RETRY_SCHEDULE`: comma-separated delays in seconds before each retry."""
    if not text or not text.strip():
        return DEFAULT_RETRY_SCHEDULE_S
    delays = tuple(float(x) for x in text.split(",") if x.strip())
    if any(d < 0 for d in delays):
        raise ValueError("retry delays must not be negative")
    return delays


def next_delay(schedule: tuple[float, ...], attempts: int, jitter: float = 0.2,
               retry_after_s: float | None = None, rand: random.Random | None = None) -> float | None:
    """Seconds to wait after the `attempts`-th failed attempt of a chain; None when it is time to give up.

    Each delay is the schedule's, spread by ±`jitter` so that receivers that fail together are not
    retried together; a receiver's `Retry-After` lengthens it (never beyond the schedule's longest).
    """
    if attempts < 1 or attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    r = rand or random
    delay = base * (1 + jitter * (2 * r.random() - 1)) if jitter > 0 else base
    if retry_after_s is not None and retry_after_s > delay:
        delay = min(retry_after_s, max(schedule))
    return max(0.0, delay)
