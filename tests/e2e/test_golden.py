"""The golden end-to-end run over the real servers, every agent in its own process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
from collections import Counter

import pytest
from flows import FRAUD, follow, is_gate, waivers_for

from tests.evaldata import API_CLIENT

pytestmark = pytest.mark.integration

CHAIN = ["intake_extract", "coverage_check", "planner", "critic_tech", "critic_cost", "policy_eval", "gate_hitl",
         "process_approval_feedback", "codegen", "validators", "rationale_compile", "diff_and_persist"]


def test_golden_run(client) -> None:
    project = client.create_project("golden fraud scoring")
    sub = client.submit(project["id"], FRAUD)
    ds = sub["decision_set_id"]
    first = follow(client, ds, is_gate)
    types = Counter(ev for ev, _, _ in first)
    assert first[-1][0] == "gate-waiting", first[-1]
    assert types["reason-card"] >= 6 and types["policy-update"] == 1 and types["cost-update"] == 1
    gate = first[-1][1]
    assert gate["plan"]["components"] and gate["cost"]["monthly_usd"] > 0 and gate["policy"]["overall"]
    ids = [eid for _, _, eid in first]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)

    waivers = waivers_for(gate["policy"], "accepted for the golden run", "test")
    client.approve(ds, "approved", "looks good", waivers)
    rest = follow(client, ds, lambda ev, d: ev == "run-complete", last=ids[-1])
    assert not {eid for _, _, eid in rest} & set(ids), "resume sent an event twice"
    assert rest[-1][0] == "run-complete" and rest[-1][1]["status"] == "completed"
    assert any(ev == "diff-update" for ev, _, _ in rest)

    final = client.decision_set(ds)
    assert final["status"] == "completed" and final["git_commit"]
    assert final["plan"]["cloud"] == "aws"
    events = client.events(ds)
    keys = [(e["node_name"], e["type"], json.dumps(e["data"], sort_keys=True)) for e in events]
    assert len(keys) == len(set(keys)), "an event was recorded twice"
    nodes = {e["node_name"] for e in events}
    missing = [n for n in CHAIN if n not in nodes]
    assert not missing, f"nodes without events: {missing}"
    assert events[-1]["type"] == "run-complete"

    zipped = client.artifact(ds)
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        names = set(z.namelist())
    assert {"README.md", "plan.md", "reports/validation.json", "reports/rationale.json", "reports/cost.json",
            "reports/policy.json", "docs/design-rationale.md"} <= names
    assert any(n.startswith("infra/") and n.endswith(".tf") for n in names)


def test_changes_requested_creates_version_two_with_a_change_summary(client) -> None:
    project = client.create_project("golden versions")
    ds1 = client.submit(project["id"], FRAUD)["decision_set_id"]
    follow(client, ds1, is_gate)
    client.approve(ds1, "changes_requested", "use eu-central-1 instead")
    end = follow(client, ds1, lambda ev, d: ev == "run-complete")[-1]
    assert end[1]["status"] == "superseded"
    ds2 = end[1]["next_decision_set_id"]
    v2 = client.decision_set(ds2)
    assert v2["version"] == 2 and v2["parent_id"] == ds1
    gate = follow(client, ds2, is_gate)[-1]
    assert gate[0] == "gate-waiting"
    regions = {r for c in gate[1]["plan"]["components"] for r in c["regions"]}
    assert regions == {"eu-central-1"}
    waivers = waivers_for(gate[1]["policy"], "golden", "test")
    client.approve(ds2, "approved", "", waivers)
    follow(client, ds2, lambda ev, d: ev == "run-complete")
    done = client.decision_set(ds2)
    assert done["status"] == "completed"
    assert "constraints" in done["diff"]["state_keys_changed"]
    assert done["prompt_pack_hash"] and done["diff"]["prompt_pack_change"] is None  # same packs in both versions
    cards = [e["data"] for e in client.events(ds2) if e["type"] == "reason-card"]
    assert cards and all(c["prompt_pack_hash"] for c in cards)
    assert done["diff"]["parent_decision_set_id"] is None or done["diff"]["parent_decision_set_id"] == ds1


def test_api_conformance_client(stack) -> None:
    """The spec-only client of the evaluation set drives the gateway end to end."""
    out = subprocess.run([sys.executable, str(API_CLIENT), "plan", stack.gateway_url,
                          FRAUD.replace("PCI DSS and GDPR", "GDPR").replace("Cardholder", "Internal"), "--approve"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["ids_monotonic"] is True
    assert report["duplicates_after_resume"] == 0
    assert report["events"].get("run-complete") == 1
    assert report["events"].get("gate-waiting", 0) >= 1


def test_killing_an_agent_mid_run_loses_nothing(stack, client) -> None:
    """SIGKILL the critics service while a run is in flight; the restarted one finishes it."""
    project = client.create_project("crash recovery")
    stack.kill("critics-0")
    ds = client.submit(project["id"], FRAUD)["decision_set_id"]
    deadline = time.monotonic() + 30
    while client.decision_set(ds)["stage"] != "critic_tech" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.decision_set(ds)["stage"] == "critic_tech"  # waiting for the dead service
    stack.spawn_agent("critics-0")
    gate = follow(client, ds, is_gate)[-1]
    assert gate[0] == "gate-waiting"
    stack.restart("validators-0")  # crash-restart the next stage before it gets work
    waivers = waivers_for(gate[1]["policy"], "x", "t")
    client.approve(ds, "approved", "", waivers)
    follow(client, ds, lambda ev, d: ev == "run-complete")
    events = client.events(ds)
    keys = [(e["node_name"], e["type"], json.dumps(e["data"], sort_keys=True)) for e in events]
    assert len(keys) == len(set(keys))
    assert client.decision_set(ds)["status"] == "completed"


@pytest.mark.parametrize("point", ["before_commit", "after_commit", "after_publish"])
def test_crash_at_each_point_of_the_step_protocol(stack, client, tmp_path, point) -> None:
    """The policy service dies at one point of a step; its supervisor-restarted replacement completes
    the run with every event exactly once."""
    marker = tmp_path / "crashed"
    stack.kill("policy-0")
    stack.spawn_agent("policy-0", {"AMP_CRASH_AT": f"policy:{point}", "AMP_CRASH_MARKER": str(marker)})
    project = client.create_project(f"crash {point}")
    ds = client.submit(project["id"], FRAUD)["decision_set_id"]
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the crash point was not reached"
    stack.procs["policy-0"].wait(10)
    stack.spawn_agent("policy-0")
    gate = follow(client, ds, is_gate)[-1]
    assert gate[0] == "gate-waiting" and gate[1]["gate"] == "pre-codegen"
    events = client.events(ds)
    policy_updates = [e for e in events if e["type"] == "policy-update"]
    assert len(policy_updates) == 1
    keys = [(e["node_name"], e["type"], json.dumps(e["data"], sort_keys=True)) for e in events]
    assert len(keys) == len(set(keys))
