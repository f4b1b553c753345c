"""`/metrics` on the gateway and on every agent's health port, in Prometheus text that the Prometheus
client's own parser reads, moving when a run completes; `GET /status` and `amp status` for the operator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from flows import FRAUD, follow, is_gate, own_stack, waivers_for
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

AGENTS = ("intake", "planner", "critics", "policy", "codegen", "validators")


def scrape(url: str, timeout: float = 60.0, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple], float]:
    """Every sample of a /metrics page, by (name, sorted labels)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = httpx.get(url, timeout=5, headers=headers)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.3)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


@pytest.mark.timeout(600)
def test_metrics_move_with_a_run_and_status_sees_every_service(settings, tmp_path) -> None:
    operator = settings.model_copy(update={"admins": ("ops-user",)})
    with own_stack(operator, tmp_path, health=True) as (stack, client):
        agent_url = {a: f"http://127.0.0.1:{stack.health_ports[f'{a}-0']}/metrics" for a in AGENTS}
        before = {a: scrape(u) for a, u in agent_url.items()}
        signed_in = dict(client.http.headers)
        assert httpx.get(stack.gateway_url + "/metrics", timeout=10).status_code == 401  # not without identity
        gw_before = scrape(stack.gateway_url + "/metrics", headers=signed_in)

        project = client.create_project("metrics run")
        ds = client.submit(project["id"], FRAUD)["decision_set_id"]
        gate = follow(client, ds, is_gate, timeout=240)[-1]
        assert gate[0] == "gate-waiting"

        st = client.get("/status")
        assert set(st["services"]) == {*AGENTS, "webhooks"}
        assert st["gates"]["oldest"] and st["gates"]["waiting"] >= 1
        assert all(isinstance(s["dead_letters"], int) for s in st["services"].values())
        assert {c["durable"] for c in st["services"]["codegen"]["consumers"]} >= {"codegen-amp-gate-decided"}

        client.approve(ds, "approved", "", waivers_for(gate[1]["policy"], "metrics", "test"))
        end = follow(client, ds, lambda ev, d: ev == "run-complete", timeout=240)[-1]
        assert end[1]["status"] == "completed"

        after = {a: scrape(u) for a, u in agent_url.items()}
        for agent in AGENTS:
            ran = total(after[agent], "amp_steps_total", service=agent, outcome="ok") - total(
                before[agent], "amp_steps_total", service=agent, outcome="ok")
            assert ran >= 1, f"{agent} counted no step"
            assert total(after[agent], "amp_step_duration_seconds_count", service=agent) > total(
                before[agent], "amp_step_duration_seconds_count", service=agent)
        assert total(after["policy"], "amp_policy_outcomes_total") > total(before["policy"], "amp_policy_outcomes_total")
        assert total(after["validators"], "amp_time_to_artifact_seconds_count") == total(
            before["validators"], "amp_time_to_artifact_seconds_count") + 1
        assert total(after["validators"], "amp_runs_ended_total", status="completed") >= 1
        assert total(after["validators"], "amp_validation_outcomes_total") > 0

        gw = scrape(stack.gateway_url + "/metrics", headers=signed_in)
        route = "/projects/{project_id}/constraints"
        assert total(gw, "http_requests_total", handler=route, status="202") == total(
            gw_before, "http_requests_total", handler=route, status="202") + 1
        assert total(gw, "amp_sse_streams_total") >= 2
        assert total(gw, "amp_gate_wait_seconds_count", gate="pre-codegen") == 1

        # the operator's command: every service serving, JSON for scripts, exit 0
        r = subprocess.run([sys.executable, "-m", "amp_cli.main", "status", "--gateway", stack.gateway_url, "--json"],
                           capture_output=True, text=True, timeout=60,
                           env={**os.environ, "AMP_TOKEN": stack.token("ops-user")})
        assert r.returncode == 0, (r.stdout, r.stderr)
        doc = json.loads(r.stdout)
        assert doc["status"] == "ok", {k: v["health"] for k, v in doc["services"].items()}
        assert doc["gates"]["oldest"] is None or doc["gates"]["oldest"]["decision_set_id"] != ds  # operators see ids
