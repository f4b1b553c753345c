"""Shared steps of the end-to-end tests: requirement texts and following a stream."""

from __future__ import annotations

FRAUD = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
         "99.9% availability, budget $6,000 per month. Cardholder data, PCI DSS and GDPR. Containers. "
         "Retrain weekly.")


def follow(client, ds_id, until, last=None, timeout=120.0):
    """Read the stream of a decision set until `until(event, data)` holds; returns (event, data, id) tuples."""
    seen = []
    for ev, data, eid in client.stream(ds_id, last, timeout=timeout):
        seen.append((ev, data, eid))
        if until(ev, data):
            break
    return seen


def is_gate(ev, data) -> bool:
    return ev == "gate-waiting" and data.get("gate") == "pre-codegen" or ev == "run-complete"


def waivers_for(policy: dict, reason: str = "accepted for the test", by: str = "test") -> list[dict]:
    """A waiver for every failed rule of a policy result (what approving a failed policy needs)."""
    return [{"rule_id": r["id"], "reason": reason, "by": by} for r in policy["rules"] if r["status"] == "fail"]
