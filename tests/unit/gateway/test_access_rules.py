"""The pure parts of access control: the role table, four eyes, trusted hosts, limits, log correlation."""

from __future__ import annotations

import json
import logging

import pytest
from amp_contracts import RateLimited
from amp_domain.access import ALLOWED, ROLES, can, four_eyes_refuses
from amp_runtime.telemetry import JsonFormatter, bind_log_context, reset_log_context

from services.gateway.auth import RateLimiter, StreamSlots
from services.gateway.edge import host_allowed


def test_every_member_reads_and_only_owners_manage() -> None:
    assert all(can(r, "read") for r in ROLES)
    assert [r for r in ROLES if can(r, "manage")] == ["owner"]
    assert {r for r in ROLES if can(r, "approve")} == {"owner", "reviewer"}
    assert {r for r in ROLES if can(r, "submit")} == {"owner", "architect"}
    assert {r for r in ROLES if can(r, "budget")} == {"owner", "finops"}
    assert not can(None, "read") and not can("emperor", "read")
    assert all("owner" in roles for roles in ALLOWED.values())  # the owner may do everything


@pytest.mark.parametrize(("enabled", "submitter", "approver", "refused"), [
    (True, "alice", "alice", True), (True, "alice", "bob", False),
    (False, "alice", "alice", False), (True, None, "alice", False),
])
def test_four_eyes(enabled, submitter, approver, refused) -> None:
    assert four_eyes_refuses(enabled, submitter, approver) is refused


@pytest.mark.parametrize(("host", "ok"), [
    ("127.0.0.1:8080", True), ("localhost", True), ("LOCALHOST:80", True), ("[::1]:8080", True),
    ("attacker.example", False), ("attacker.example:8080", False), ("127.0.0.1.nip.io", False), ("", False),
])
def test_trusted_hosts(host, ok) -> None:
    assert host_allowed(host, ("127.0.0.1", "localhost", "[::1]")) is ok


def test_trusted_hosts_wildcards() -> None:
    assert host_allowed("amp.example.com", (".example.com",))
    assert not host_allowed("example.com.evil", (".example.com",))
    assert host_allowed("anything", ("*",))


def test_rate_limiter_counts_per_user() -> None:
    limiter = RateLimiter(2, window_s=60)
    limiter.check("a")
    limiter.check("a")
    limiter.check("b")
    with pytest.raises(RateLimited) as e:
        limiter.check("a")
    assert e.value.retry_after_s and e.value.retry_after_s >= 1


def test_stream_slots_are_given_back() -> None:
    slots = StreamSlots(1)
    slots.take("a")
    slots.take("b")
    with pytest.raises(RateLimited):
        slots.take("a")
    slots.give_back("a")
    slots.take("a")


def test_log_lines_carry_the_bound_ids() -> None:
    token = bind_log_context(request_id="r1", user_id="alice")
    try:
        line = JsonFormatter().format(logging.LogRecord("amp", logging.INFO, __file__, 1, "hello", None, None))
    finally:
        reset_log_context(token)
    out = json.loads(line)
    assert out["request_id"] == "r1" and out["user_id"] == "alice"
    after = json.loads(JsonFormatter().format(logging.LogRecord("amp", logging.INFO, __file__, 1, "x", None, None)))
    assert "user_id" not in after
