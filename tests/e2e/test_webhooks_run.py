"""A full run (questions, answers, the approval gate, approval, completion) seen by a webhook receiver.

The receiver verifies every request with the Standard Webhooks reference library and refuses the
first attempt of each message, so every delivery goes through a retry; still each event of the
run arrives exactly once in effect: one webhook-id per event, one successful attempt per id.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from flows import follow, is_gate, waivers_for
from standardwebhooks.webhooks import Webhook

from tests.fakes.webhook_receiver import Receiver

pytestmark = pytest.mark.integration

VAGUE = "Sentiment model behind an API, about 5 requests per second, budget $300/month."
ANSWERS = {"cloud": "gcp", "regions": ["europe-west4"], "data_classification": "internal"}


def is_any_gate(ev, data) -> bool:
    return ev == "gate-waiting" and data.get("gate") == "intake" or is_gate(ev, data)


def test_every_event_of_a_full_run_arrives_once_verified(client) -> None:
    with Receiver() as receiver:
        receiver.fail_first_attempts("/amp")
        project = client.create_project("webhooks full run")["id"]
        hook = client.post(f"/projects/{project}/webhooks", {"url": receiver.url("/amp"), "events": [
            "plan.ready", "gate.waiting", "gate.reminder", "gate.expired", "run.complete", "run.error",
            "budget.warning", "budget.paused"]})
        ds = client.submit(project, VAGUE)["decision_set_id"]

        seen = follow(client, ds, is_any_gate)
        rounds = 0
        while seen[-1][0] == "gate-waiting" and seen[-1][1]["gate"] == "intake":
            gate = seen[-1][1]
            rounds += 1
            client.answer(ds, {q["field"]: ANSWERS.get(q["field"], q.get("default")) for q in gate["questions"]},
                          interrupt_id=gate["interrupt_id"])
            seen = follow(client, ds, is_any_gate, last=seen[-1][2])
        assert rounds >= 1 and seen[-1][1]["gate"] == "pre-codegen"
        gate = seen[-1][1]
        client.approve(ds, "approved", "ship it", waivers_for(gate["policy"]))
        end = follow(client, ds, lambda ev, d: ev == "run-complete", last=seen[-1][2])
        assert end[-1][1]["status"] == "completed"

        events = client.events(ds)
        expected = Counter({"gate.waiting": sum(e["type"] == "gate-waiting" for e in events),
                            "plan.ready": sum(e["type"] == "policy-update" for e in events),
                            "run.complete": sum(e["type"] == "run-complete" for e in events)})
        assert expected == Counter({"gate.waiting": rounds + 1, "plan.ready": 1, "run.complete": 1})
        want = sum(expected.values())

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ok = {r.headers["webhook-id"] for r in receiver.at("/amp") if r.status == 200}
            if len(ok) >= want:
                break
            time.sleep(0.1)
        time.sleep(1.5)  # anything late or doubled would arrive now
        reqs = receiver.at("/amp")
        verified = [(r, Webhook(hook["secret"]).verify(r.body, r.headers)) for r in reqs]
        by_id: dict[str, list] = {}
        for r, payload in verified:
            by_id.setdefault(r.headers["webhook-id"], []).append((r, payload))
        assert len(by_id) == want, sorted(p["type"] for _, p in verified)
        for mid, attempts in by_id.items():
            assert [r.status for r, _ in attempts] == [500, 200], (mid, [r.status for r, _ in attempts])
            assert len({r.body for r, _ in attempts}) == 1
        payloads = sorted((attempts[0][1] for attempts in by_id.values()), key=lambda p: p["timestamp"])
        assert Counter(p["type"] for p in payloads) == expected
        assert [p["type"] for p in payloads][-3:] == ["plan.ready", "gate.waiting", "run.complete"]
        for p in payloads:
            d = p["data"]
            assert d["project_id"] == project and d["decision_set_id"] == ds and d["version"] == 1
            assert d["links"]["web"].endswith(f"/#/ds/{ds}")
        intake = [p["data"] for p in payloads if p["type"] == "gate.waiting" and p["data"]["gate"] == "intake"]
        assert len(intake) == rounds and all(d["status"] == "waiting_intake" and d["questions"] for d in intake)
        approval = next(p["data"] for p in payloads if p["type"] == "gate.waiting" and p["data"]["gate"] == "pre-codegen")
        assert approval["status"] == "waiting_approval" and approval["expires_at"]
        assert approval["cost"]["monthly_usd"] > 0 and approval["policy"]["overall"] in ("pass", "warn", "fail")
        ready = next(p["data"] for p in payloads if p["type"] == "plan.ready")
        assert ready["cost"]["monthly_usd"] == approval["cost"]["monthly_usd"]
        done = payloads[-1]["data"]
        assert done["status"] == "completed" and done["links"]["artifact"].endswith(f"/decision-sets/{ds}/artifact")
        bodies = " ".join(r.body.decode() for r in reqs)
        assert "Sentiment" not in bodies and "ship it" not in bodies  # no requirement text, no comments

        log = client.get(f"/projects/{project}/webhooks/{hook['id']}/deliveries")["deliveries"]
        assert len(log) == want and all(d["state"] == "delivered" and d["attempts"] == 2 for d in log)
        assert {d["message_id"] for d in log} == set(by_id)
        assert json.dumps(log).count("whsec_") == 0
