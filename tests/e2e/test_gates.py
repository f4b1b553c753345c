"""The two human gates over REST: intake questions and approval (answers, concurrency, expiry, waivers)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from amp_cli.client import ApiError
from flows import FRAUD, follow, is_gate

pytestmark = pytest.mark.integration

VAGUE = "Sentiment model behind an API, about 5 requests per second, budget $300/month."


def is_intake_gate(ev, data) -> bool:
    return ev == "gate-waiting" and data.get("gate") == "intake" or is_gate(ev, data)


def test_intake_asks_then_resumes_with_answers(client) -> None:
    project = client.create_project("intake loop")
    ds = client.submit(project["id"], VAGUE)["decision_set_id"]
    seen = follow(client, ds, is_intake_gate)
    ev, gate, eid = seen[-1]
    assert ev == "gate-waiting" and gate["gate"] == "intake"
    fields = {q["field"] for q in gate["questions"]}
    assert {"cloud", "regions"} & fields, fields
    assert "budget_monthly_usd" not in fields and "throughput_rps" not in fields  # never ask what is known
    assert client.decision_set(ds)["status"] == "waiting_intake"
    with pytest.raises(ApiError) as bad:  # a typed answer that does not fit the schema: 422, the gate stays open
        client.answer(ds, {"cloud": "mars"}, interrupt_id=gate["interrupt_id"])
    assert bad.value.status == 422 and "cloud" in bad.value.message
    assert client.decision_set(ds)["status"] == "waiting_intake"
    answers = {"cloud": "gcp", "regions": ["europe-west4"], "data_classification": "internal"}
    client.answer(ds, {k: v for k, v in answers.items() if k in fields}, interrupt_id=gate["interrupt_id"])
    rest = follow(client, ds, is_intake_gate, last=eid)
    while rest[-1][0] == "gate-waiting" and rest[-1][1]["gate"] == "intake":  # a follow-up round
        g = rest[-1][1]
        client.answer(ds, {q["field"]: answers.get(q["field"], q.get("default")) for q in g["questions"]},
                      interrupt_id=g["interrupt_id"])
        rest = follow(client, ds, is_intake_gate, last=rest[-1][2])
    assert rest[-1][0] == "gate-waiting" and rest[-1][1]["gate"] == "pre-codegen"
    final = client.decision_set(ds)
    assert final["constraints"]["cloud"] == "gcp" and final["constraints"]["regions"] == ["europe-west4"]
    assert all(c["pattern_id"].startswith("gcp:") for c in final["plan"]["components"])
    with pytest.raises(ApiError) as err:  # the questions were answered: the gate is closed
        client.answer(ds, {"cloud": "aws"}, interrupt_id=gate["interrupt_id"])
    assert err.value.status == 409


def test_intake_restart_while_waiting_loses_nothing(stack, client) -> None:
    project = client.create_project("intake restart")
    ds = client.submit(project["id"], VAGUE)["decision_set_id"]
    _, gate, eid = follow(client, ds, is_intake_gate)[-1]
    assert gate["gate"] == "intake"
    stack.restart("intake-0")
    client.answer(ds, {"cloud": "aws", "regions": ["us-east-1"], "data_classification": "internal"},
                  interrupt_id=gate["interrupt_id"])
    end = follow(client, ds, is_intake_gate, last=eid)[-1]
    assert end[0] == "gate-waiting"
    assert client.decision_set(ds)["constraints"]["regions"] == ["us-east-1"]


def test_structured_constraints_win_over_text(client) -> None:
    project = client.create_project("structured")
    sub = client.submit(project["id"], FRAUD, {"regions": ["eu-central-1"], "budget_monthly_usd": 9000})
    follow(client, sub["decision_set_id"], is_gate)
    ds = client.decision_set(sub["decision_set_id"])
    assert ds["constraints"]["regions"] == ["eu-central-1"] and ds["constraints"]["budget_monthly_usd"] == 9000
    cards = [e["data"] for e in client.events(ds["id"]) if e["type"] == "reason-card"
             and e["node_name"] == "intake_extract"]
    assert "regions" in cards[0]["details"]["structured_overrides"]


def test_concurrent_decisions_one_wins(stack, client, auth_headers) -> None:
    project = client.create_project("race")
    ds = client.submit(project["id"], FRAUD.replace("Cardholder data, PCI DSS and GDPR", "Internal data"))[
        "decision_set_id"]
    follow(client, ds, is_gate)
    codes: list[int] = []

    def decide(status: str) -> None:
        r = httpx.post(f"{stack.gateway_url}/decision-sets/{ds}/approve", json={"status": status}, timeout=30,
                       headers=auth_headers)
        codes.append(r.status_code)

    threads = [threading.Thread(target=decide, args=(s,)) for s in ("approved", "rejected", "approved", "rejected")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes).count(202) == 1 and all(c == 409 for c in codes if c != 202), codes
    follow(client, ds, lambda ev, d: ev == "run-complete")


def test_rejection_ends_the_run(client) -> None:
    project = client.create_project("reject")
    ds = client.submit(project["id"], FRAUD)["decision_set_id"]
    follow(client, ds, is_gate)
    client.approve(ds, "rejected", "not now")
    end = follow(client, ds, lambda ev, d: ev == "run-complete")[-1]
    assert end[1]["status"] == "rejected"
    assert client.decision_set(ds)["status"] == "rejected"


def test_policy_fail_needs_a_waiver(client) -> None:
    project = client.create_project("waiver")
    text = ("Real-time recommendations on AWS us-east-1 at 20,000 requests per second with a 30 ms p95, 99.95% "
            "availability, GPU inference, containers. Internal data. Our budget is $200 per month.")
    ds = client.submit(project["id"], text)["decision_set_id"]
    gate = follow(client, ds, is_gate)[-1][1]
    failed = [r["id"] for r in gate["policy"]["rules"] if r["status"] == "fail"]
    assert "budget_band" in failed
    with pytest.raises(ApiError) as err:
        client.approve(ds, "approved")
    assert err.value.status == 422 and err.value.code == "policy_blocked"
    client.approve(ds, "approved", "pilot budget approved separately",
                   [{"rule_id": r, "reason": "pilot budget approved by finance", "by": "cfo"} for r in failed])
    assert follow(client, ds, lambda ev, d: ev == "run-complete")[-1][1]["status"] == "completed"
    approval = client.decision_set(ds)["approval"]
    assert {w["rule_id"] for w in approval["waivers"]} == set(failed)


def test_project_policy_pack_and_waivers_are_applied_and_shown(client, auth_headers) -> None:
    project = client.create_project("packs")
    bad = httpx.put(f"{client.base_url}/projects/{project['id']}/policies", json={"rules": [{"nonsense": True}]},
                    headers=auth_headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_failed"
    import json as _json
    from pathlib import Path

    rules = _json.loads(Path(__file__).with_name("policy_pack.json").read_text())
    ok = httpx.put(f"{client.base_url}/projects/{project['id']}/policies", json={"rules": rules}, headers=auth_headers)
    assert ok.status_code == 200, ok.text
    ds = client.submit(project["id"], FRAUD)["decision_set_id"]
    gate = follow(client, ds, is_gate)[-1][1]
    ids = {r["id"] for r in gate["policy"]["rules"]}
    assert {r["id"] for r in rules} <= ids


def test_gate_expires_and_reminds(stack, client) -> None:
    stack.kill("codegen-0")
    stack.spawn_agent("codegen-0", {"AMP_GATE_TTL_S": "4", "AMP_GATE_REMINDER_BEFORE_S": "3",
                                    "AMP_SWEEP_INTERVAL_S": "0.3"})
    try:
        project = client.create_project("expiry")
        ds = client.submit(project["id"], FRAUD)["decision_set_id"]
        seen = follow(client, ds, lambda ev, d: ev == "run-complete", timeout=60)
        types = [ev for ev, _, _ in seen]
        assert "gate-reminder" in types and "gate-stale" in types
        assert types.index("gate-reminder") < types.index("gate-stale")
        assert seen[-1][1]["status"] == "stale"
        assert client.decision_set(ds)["status"] == "stale"
        with pytest.raises(ApiError) as err:
            client.approve(ds, "approved")
        assert err.value.status == 409
    finally:
        stack.kill("codegen-0")
        stack.spawn_agent("codegen-0")
        time.sleep(0.5)
