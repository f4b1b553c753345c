"""Outbound connections to user-given hosts, checked where they are made.

A URL checked when it is saved can point elsewhere when it is called (DNS rebinding: the name
resolves to a public address first, to 127.0.0.1 later). So the connection itself resolves the
name, checks every address against the target policy and connects to an address it checked;
TLS still verifies the certificate against the name. `GuardedBackend` is that connection step
for httpcore; `check_target` is the same check when a URL is saved, for an early, clear error.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
from amp_domain.webhooks import TargetPolicy, UnsafeTarget, check_address, check_url


async def resolve_checked(host: str, port: int, policy: TargetPolicy) -> list[str]:
    """Every address `host` resolves to, all of them allowed; `UnsafeTarget` if any is not.

    One refused address refuses the name: a name that resolves to a public and a private address
    is how a rebinding attack hedges its bets.
    """
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise Unresolvable(f"the host {host} does not resolve ({e.strerror or e})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Unresolvable(f"the host {host} does not resolve")
    for address in addresses:
        check_address(address.split("%", 1)[0], policy)  # an IPv6 zone id is not part of the address
    return addresses


async def check_target(url: str, policy: TargetPolicy) -> None:
    """The URL's shape and where its host resolves to now (`UnsafeTarget` says what is wrong)."""
    host, port = check_url(url, policy)
    await resolve_checked(host, port, policy)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, but it connects only to addresses the policy allows, checked at connect time."""

    def __init__(self, policy: TargetPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve_checked(host, port, self.policy)
        except Unresolvable as e:  # perhaps for now: an ordinary connection failure, tried again later
            raise httpcore.ConnectError(str(e)) from None
        except UnsafeTarget as e:
            raise RefusedTarget(str(e)) from None
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                last = e
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise RefusedTarget("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class Unresolvable(UnsafeTarget):
    """The name does not resolve (now); unlike a refused address, this may pass."""


class RefusedTarget(httpcore.ConnectError):
    """The connection was refused by the target policy (not by the network)."""
