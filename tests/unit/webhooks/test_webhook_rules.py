"""Webhooks without I/O: signatures the reference library accepts, the SSRF rules, the retry schedule,
what an attempt's answer leads to, and what a payload may (and may not) carry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from amp_contracts import WEBHOOK_EVENTS, Event, WebhookPayload
from amp_domain.webhook_signing import new_secret, signature, signed_headers
from amp_domain.webhooks import (
    DEFAULT_RETRY_SCHEDULE_S,
    TargetPolicy,
    UnsafeTarget,
    check_address,
    check_url,
    next_delay,
    parse_schedule,
)
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.webhooks.nodes import Answer, after_attempt, build_payload, encode, event_message_id, webhook_types

STRICT = TargetPolicy()
DEV = TargetPolicy(allow_http=True, allow_private=True)


# --- signing --------------------------------------------------------------------------------

def test_secrets_are_standard_and_distinct() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("whsec_")
    assert len(base64.b64decode(a[len("whsec_"):])) == 32  # the spec asks 24..64 random bytes


def test_the_reference_library_verifies_our_signature() -> None:
    secret, body = new_secret(), b'{"type":"run.complete","timestamp":"2026-01-01T00:00:00Z","data":{}}'
    now = int(datetime.now(UTC).timestamp())
    headers = signed_headers([secret], "msg_abc", now, body)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(secret).verify(body, headers)["type"] == "run.complete"
    with pytest.raises(WebhookVerificationError):  # another secret, or a changed body, does not verify
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"run.complete", b"run.error"), headers)
    with pytest.raises(WebhookVerificationError):  # the id is signed too
        Webhook(secret).verify(body, {**headers, "webhook-id": "msg_other"})


def test_during_a_rotation_both_secrets_verify() -> None:
    old, new, body = new_secret(), new_secret(), b"{}"
    now = int(datetime.now(UTC).timestamp())
    headers = signed_headers([new, old], "msg_1", now, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(body, headers, json_parse=False)
    Webhook(old).verify(body, headers, json_parse=False)


def test_signature_matches_the_spec_formula() -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    expected = base64.b64encode(hmac.new(b"k" * 24, b"msg_1.1700000000.{}", hashlib.sha256).digest()).decode()
    assert signature(secret, "msg_1", 1700000000, b"{}") == "v1," + expected


# --- where a webhook may go -----------------------------------------------------------------

@pytest.mark.parametrize("url", ["https://hooks.example.com/amp", "https://hooks.example.com:8443/x?y=1",
                                 "https://93.184.216.34/hook", "https://[2606:4700:4700::1111]/hook"])
def test_public_https_urls_pass(url: str) -> None:
    check_url(url, STRICT)


@pytest.mark.parametrize("url, why", [
    ("http://hooks.example.com/amp", "https://"), ("ftp://hooks.example.com/", "https://"),
    ("file:///etc/passwd", "https://"), ("https://user:pw@hooks.example.com/", "credentials"),
    ("https:///nohost", "no host"), ("https://hooks.example.com/#frag", "fragment"),
    ("https://127.0.0.1/", "loopback"), ("https://10.1.2.3/", "private"), ("https://169.254.169.254/latest", "metadata"),
    ("https://[::1]/", "loopback"), ("https://example.com:99999/", "malformed"), ("https://x/" + "a" * 3000, "longer"),
])
def test_unsafe_urls_are_refused_with_a_reason(url: str, why: str) -> None:
    with pytest.raises(UnsafeTarget, match=why):
        check_url(url, STRICT)


def test_plain_http_only_when_allowed() -> None:
    assert check_url("http://hooks.example.com/a", TargetPolicy(allow_http=True)) == ("hooks.example.com", 80)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1",
                                     "169.254.1.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "::1", "fc00::1",
                                     "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::"])
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_address(address, STRICT)
    check_address(address, DEV)  # development and tests may reach them


@pytest.mark.parametrize("address", ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254"])
def test_metadata_addresses_are_refused_even_in_development(address: str) -> None:
    with pytest.raises(UnsafeTarget, match="metadata"):
        check_address(address, DEV)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    check_address(address, STRICT)


# --- retries --------------------------------------------------------------------------------

def test_default_schedule_is_five_seconds_to_ten_hours_then_give_up() -> None:
    assert DEFAULT_RETRY_SCHEDULE_S == (5, 300, 1800, 7200, 18000, 36000)
    rand = random.Random(7)
    for i, base in enumerate(DEFAULT_RETRY_SCHEDULE_S, start=1):
        for _ in range(50):
            d = next_delay(DEFAULT_RETRY_SCHEDULE_S, i, 0.2, rand=rand)
            assert d is not None and 0.8 * base <= d <= 1.2 * base
    assert next_delay(DEFAULT_RETRY_SCHEDULE_S, 7) is None and next_delay(DEFAULT_RETRY_SCHEDULE_S, 0) is None


def test_jitter_spreads_retries() -> None:
    rand = random.Random(1)
    assert len({next_delay((100.0,), 1, 0.2, rand=rand) for _ in range(20)}) > 10


def test_retry_after_lengthens_a_delay_but_not_past_the_schedule() -> None:
    assert next_delay((5.0, 300.0), 1, 0, retry_after_s=60) == 60
    assert next_delay((5.0, 300.0), 1, 0, retry_after_s=10_000) == 300
    assert next_delay((5.0, 300.0), 1, 0, retry_after_s=1) == 5


def test_schedule_from_the_environment() -> None:
    assert parse_schedule("0.5, 1,2") == (0.5, 1.0, 2.0)
    assert parse_schedule("") == DEFAULT_RETRY_SCHEDULE_S
    with pytest.raises(ValueError):
        parse_schedule("1,-2")


@pytest.mark.parametrize("code", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(code: int) -> None:
    assert after_attempt(Answer(code, 3.0), 1, (1.0,), 0).state == "delivered"


def test_410_fails_and_disables() -> None:
    nxt = after_attempt(Answer(410, 3.0), 1, (1.0, 2.0), 0)
    assert nxt.state == "failed" and "410" in (nxt.disable_reason or "")


@pytest.mark.parametrize("answer", [Answer(500, 1.0), Answer(404, 1.0), Answer(301, 1.0), Answer(429, 1.0),
                                    Answer(None, 10_000.0, error="timed out after 10 s")])
def test_other_answers_retry_then_give_up(answer: Answer) -> None:
    first = after_attempt(answer, 1, (1.0, 2.0), 0)
    assert first.state == "pending" and first.retry_in_s == 1.0 and first.disable_reason is None
    assert after_attempt(answer, 2, (1.0, 2.0), 0).retry_in_s == 2.0
    last = after_attempt(answer, 3, (1.0, 2.0), 0)
    assert last.state == "failed" and "gave up after 3" in (last.error or "")


def test_redirects_are_failures_that_say_so() -> None:
    assert "redirects are not followed" in (after_attempt(Answer(302, 1.0), 1, (1.0,), 0).error or "")


def test_a_refused_target_fails_at_once() -> None:
    nxt = after_attempt(Answer(None, 1.0, error="refused: 127.0.0.1 is a loopback address", refused=True), 1,
                        (1.0, 2.0), 0)
    assert nxt.state == "failed" and "loopback" in (nxt.error or "") and nxt.disable_reason is None


# --- events and payloads --------------------------------------------------------------------

PID, DSID = str(uuid.uuid4()), str(uuid.uuid4())
REQUIREMENTS = "Top secret fraud model for ACME-INTERNAL-CODENAME, api key sk-live-123"


def event(type_: str, data: dict, eid: int = 41) -> Event:
    return Event(id=eid, type=type_, project_id=PID, decision_set_id=DSID, run_id="r", node_name="n", data=data,
                 ts=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))


DS_ROW = {"id": DSID, "project_id": PID, "version": 2, "parent_id": str(uuid.uuid4()), "status": "completed",
          "requirements": REQUIREMENTS, "input_constraints": {"notes": REQUIREMENTS},
          "approval": {"comment": REQUIREMENTS}, "artifact_key": "k", "git_commit": "c",
          "cost": {"monthly_usd": 4321.5, "low_usd": 4000, "high_usd": 5000, "delta_vs_prev_usd": -10.0,
                   "breakdown": [{"service": "x", "qty": "1", "usd": 1.0}]},
          "policy": {"overall": "warn", "requires_review": False, "rules": [
              {"id": "R1", "status": "pass", "detail": REQUIREMENTS}, {"id": "R2", "status": "warn", "detail": "d"},
              {"id": "R3", "status": "fail", "detail": "d", "waived": True}]}}


@pytest.mark.parametrize("type_, data, expected", [
    ("policy-update", {"overall": "pass", "rules": []}, ["plan.ready"]),
    ("gate-waiting", {"gate": "intake", "questions": []}, ["gate.waiting"]),
    ("gate-waiting", {"gate": "pre-codegen"}, ["gate.waiting"]),
    ("gate-waiting", {"gate": "budget"}, ["budget.paused"]),
    # a run stopped on an error (the sweeper, a step that kept failing): its run-error is the webhook
    ("gate-waiting", {"gate": "error"}, []), ("gate-waiting", {}, []),
    ("gate-reminder", {}, ["gate.reminder"]), ("gate-stale", {}, ["gate.expired"]),
    ("run-error", {"code": "internal"}, ["run.error"]), ("run-complete", {"status": "completed"}, ["run.complete"]),
    ("reason-card", {}, []), ("cost-update", {}, []), ("status-change", {}, []), ("diff-update", {}, []),
])
def test_which_events_become_webhooks(type_: str, data: dict, expected: list[str]) -> None:
    assert webhook_types(event(type_, data)) == expected


def test_every_type_is_produced_by_some_event_or_the_budget_check() -> None:
    produced = {t for ty, d in [("policy-update", {}), ("gate-waiting", {"gate": "intake"}),
                                ("gate-waiting", {"gate": "budget"}), ("gate-reminder", {}), ("gate-stale", {}),
                                ("run-error", {}), ("run-complete", {})] for t in webhook_types(event(ty, d))}
    assert produced | {"budget.warning"} == set(WEBHOOK_EVENTS)


def test_run_complete_payload_has_ids_status_summaries_and_links_but_no_user_text() -> None:
    p = build_payload("run.complete", event("run-complete", {"status": "completed"}), DS_ROW, "https://amp.example")
    body = encode(p)
    assert REQUIREMENTS not in body and "sk-live" not in body and "ACME" not in body
    doc = json.loads(body)
    assert set(doc) == {"type", "timestamp", "data"} and doc["type"] == "run.complete"
    assert doc["timestamp"].startswith("2026-01-02T03:04:05")
    d = doc["data"]
    assert (d["project_id"], d["decision_set_id"], d["version"], d["parent_id"], d["status"]) == (
        PID, DSID, 2, DS_ROW["parent_id"], "completed")
    assert d["cost"] == {"monthly_usd": 4321.5, "low_usd": 4000.0, "high_usd": 5000.0, "delta_vs_prev_usd": -10.0}
    assert d["policy"] == {"overall": "warn", "failed": [], "warned": ["R2"], "waived": ["R3"], "requires_review": False}
    assert d["links"]["web"] == f"https://amp.example/#/ds/{DSID}"
    assert d["links"]["api"] == f"https://amp.example/decision-sets/{DSID}"
    assert d["links"]["artifact"].endswith("/artifact")
    WebhookPayload.model_validate_json(body)


def test_intake_gate_names_fields_not_question_text() -> None:
    q = {"field": "regions", "question": f"Where? {REQUIREMENTS}", "options": ["eu-west-1"]}
    p = build_payload("gate.waiting", event("gate-waiting", {"gate": "intake", "questions": [q]}), DS_ROW, "http://x")
    body = encode(p)
    assert p.data.status == "waiting_intake" and p.data.questions == ["regions"] and REQUIREMENTS not in body


def test_approval_gate_carries_cost_policy_and_expiry() -> None:
    expires = datetime(2026, 1, 9, tzinfo=UTC)
    p = build_payload("gate.waiting", event("gate-waiting", {
        "gate": "pre-codegen", "expires_at": expires.isoformat(), "cost": DS_ROW["cost"], "policy": DS_ROW["policy"],
        "plan": {"components": [{"note": REQUIREMENTS}]}}), DS_ROW, "http://x")
    assert p.data.status == "waiting_approval" and p.data.expires_at == expires
    assert p.data.cost and p.data.cost.monthly_usd == 4321.5 and p.data.policy and p.data.policy.overall == "warn"
    assert REQUIREMENTS not in encode(p)


def test_run_error_names_code_and_node_not_the_message() -> None:
    p = build_payload("run.error", event("run-error", {"code": "validation_failed", "node_name": "planner",
                                                       "message": REQUIREMENTS}), DS_ROW, "http://x")
    assert (p.data.status, p.data.error_code, p.data.node_name) == ("failed", "validation_failed", "planner")
    assert REQUIREMENTS not in encode(p)


def test_webhook_ids_are_stable_and_spec_safe() -> None:
    a = event_message_id(event("run-complete", {}, eid=7), "run.complete")
    assert a == event_message_id(event("run-complete", {}, eid=7), "run.complete")
    assert a != event_message_id(event("run-complete", {}, eid=8), "run.complete")
    assert a.startswith("msg_") and "." not in a  # the id is part of the signed string, '.'-delimited


def test_payload_timestamp_is_the_events_not_the_deliverys() -> None:
    ev = event("gate-stale", {})
    p = build_payload("gate.expired", ev, DS_ROW, "http://x")
    assert p.timestamp == ev.ts and p.timestamp < datetime.now(UTC) - timedelta(days=1)


def test_the_service_is_a_bus_subscriber_not_a_pipeline_step() -> None:
    from amp_contracts import AGENTS, SUBSCRIBERS
    from amp_runtime.settings import Settings

    from services.webhooks.app import DURABLE, create_app

    app = create_app(Settings(nats_url="nats://127.0.0.1:1"))
    [sub] = app.broker.subscribers
    assert str(sub._resolved_subject_string) == "amp.events.>" and DURABLE == "webhooks-events"
    assert "webhooks" in SUBSCRIBERS and "webhooks" not in AGENTS


def test_every_gate_that_becomes_a_webhook_builds_a_valid_payload() -> None:
    """No gate the platform publishes maps to a payload the contract refuses (which would fail the batch)."""
    from typing import get_args

    from amp_contracts.events import GateWaiting

    for gate in get_args(GateWaiting.model_fields["gate"].annotation):
        ev = event("gate-waiting", {"gate": gate})
        for wtype in webhook_types(ev):
            WebhookPayload.model_validate_json(encode(build_payload(wtype, ev, DS_ROW, "http://x")))


def test_run_error_of_a_stopped_run_says_stalled() -> None:
    ev = event("run-error", {"code": "stalled", "node_name": "planner"})
    assert build_payload("run.error", ev, {**DS_ROW, "status": "stalled"}, "http://x").data.status == "stalled"
    assert build_payload("run.error", ev, {**DS_ROW, "status": "failed"}, "http://x").data.status == "failed"
    assert build_payload("run.error", ev, None, "http://x").data.status == "failed"
