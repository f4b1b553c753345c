"""Shared steps of the end-to-end tests: requirement texts and following a stream."""

from __future__ import annotations

import contextlib

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


@contextlib.contextmanager
def own_stack(settings, tmp_path, env=None, health=False, without=()):
    """Every service on a NATS server of its own (so no replica of the session's stack shares its durable
    consumers), against the session's database; yields (stack, client)."""
    from amp_cli.client import Client
    from amp_cli.stack import BACKGROUND, Stack
    from amp_runtime.embedded import EmbeddedNats, free_port

    nats = EmbeddedNats(tmp_path / "nats").start()
    s = Stack(settings.model_copy(update={"nats_url": nats.url, "data_dir": tmp_path / "data",
                                          "gateway_port": free_port()}), env=dict(env or {}), health=health)
    client = None
    try:
        s.start_services(agents=tuple(a for a in BACKGROUND if a not in without))
        client = Client(s.gateway_url, timeout=60, token=s.token("test-user"))  # this stack's own issuer
        yield s, client
    finally:
        if client is not None:
            client.close()
        s.stop()
        nats.stop()
