"""A golden run with a model: every agent calls a local server speaking the Messages API through
the real `anthropic` SDK, over the bus; Reason Cards show provider, model, tokens and prompt pack."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest
from fakes.anthropic_server import FakeAnthropicServer
from fakes.scripted_model import ScriptedModel
from flows import FRAUD, follow, is_gate, waivers_for

pytestmark = pytest.mark.integration

MODEL_NODES = {"intake_extract", "planner", "critic_tech", "process_approval_feedback"}


@pytest.fixture(scope="module")
def model_stack(settings, tmp_root):
    from amp_cli.stack import Stack
    from amp_runtime.embedded import EmbeddedNats, free_port

    server = FakeAnthropicServer().start()
    model = ScriptedModel()
    server.respond(model)
    bus = EmbeddedNats(tmp_root / "model-nats").start()  # its own bus: no sharing work with the rules' agents
    s = Stack(settings.model_copy(update={"gateway_port": free_port(), "data_dir": tmp_root / "model-data",
                                          "nats_url": bus.url}),
              env={"AMP_PROVIDER": "anthropic", "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": server.url,
                   "AMP_MODEL": "claude-sonnet-4-6", "AMP_FALLBACK_MODEL": "none"})
    s.start_services()
    yield s, server, model
    s.stop()
    bus.stop()
    server.stop()


def test_golden_run_with_scripted_model_answers(model_stack, settings) -> None:
    from amp_cli.client import Client

    stack, server, model = model_stack
    client = Client(stack.gateway_url, timeout=60, token=stack.token("test-user"))  # its own issuer
    try:
        project = client.create_project("model golden")
        ds = client.submit(project["id"], FRAUD)["decision_set_id"]
        gate = follow(client, ds, is_gate)[-1]
        assert gate[0] == "gate-waiting", gate
        waivers = waivers_for(gate[1]["policy"], "golden", "t")
        client.approve(ds, "approved", "looks right", waivers)
        assert follow(client, ds, lambda ev, d: ev == "run-complete")[-1][1]["status"] == "completed"
        import io
        import zipfile

        with zipfile.ZipFile(io.BytesIO(client.artifact(ds))) as z:
            app = z.read("services/serving/app.py").decode()
        assert "written by the scripted model" in app  # the model's code inside the template's seam
        final = client.decision_set(ds)
        assert final["reports"]["validation"]["overall"] == "pass"
        cards = [e["data"] for e in client.events(ds) if e["type"] == "reason-card"]
        by_model = [c for c in cards if c["provider"]["provider"] == "anthropic"]
        assert {c["node_name"] for c in by_model} >= {"intake_extract", "planner", "critic_tech", "codegen"}
        for c in by_model:
            assert c["provider"]["model"] == "claude-sonnet-4-6"
            assert c["provider"]["input_tokens"] > 0 and c["prompt_pack_hash"]
        # the model picks wherever a capability has two or more open (buildable, eligible) candidates
        from amp_contracts import Plan

        from services.planner.nodes import open_candidates

        choices = sum(1 for c in Plan.model_validate(final["plan"]).components if len(open_candidates(c)) >= 2)
        assert model.calls.get("record_constraints") == 1 and model.calls.get("choose_pattern", 0) >= choices >= 1
        assert all(r.headers.get("authorization") or r.headers.get("x-api-key") for r in server.requests)

        async def usage() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(settings.database_url)
            try:
                return await conn.fetch("SELECT node, provider, input_tokens, cache_read_tokens FROM llm_usage "
                                        "WHERE decision_set_id = $1", __import__("uuid").UUID(ds))
            finally:
                await conn.close()

        rows = asyncio.run(usage())
        assert len(rows) == len(server.requests)  # every call accounted once
        assert {r["provider"] for r in rows} == {"anthropic"}
        assert sum(r["cache_read_tokens"] for r in rows) > 0
    finally:
        client.close()


def test_llm_budget_pauses_the_run_and_resume_continues_it(model_stack) -> None:
    from amp_cli.client import ApiError, Client

    stack, _, _ = model_stack
    client = Client(stack.gateway_url, timeout=60, token=stack.token("test-user"))  # its own issuer
    gw = stack.gateway_url
    try:
        project = client.create_project("budget pause")
        r = client.http.put(f"{gw}/projects/{project['id']}/llm-budget", json={"limit_usd": 0.0001})
        assert r.status_code == 200 and r.json()["budget"]["limit_usd"] == 0.0001
        ds = client.submit(project["id"], FRAUD)["decision_set_id"]
        ev, gate, eid = follow(client, ds, lambda ev, d: ev == "gate-waiting" or ev == "run-complete")[-1]
        assert ev == "gate-waiting" and gate["gate"] == "budget" and "budget" in gate["message"]
        assert client.decision_set(ds)["status"] == "paused_budget"
        # paused by the pre-run estimate, before the first model call: nothing spent yet
        assert "this version's" in gate["message"] and "model calls" in gate["message"], gate["message"]
        paused = client.get(f"/projects/{project['id']}/llm-usage")
        assert paused["by_node"] == []
        assert [v["version"] for v in paused["by_version"]] == [1]
        assert paused["by_version"][0]["estimate_usd"] > 0.0001 and paused["by_version"][0]["actual_usd"] == 0
        with pytest.raises(ApiError) as err:  # nothing changed: still over budget
            client.post(f"/decision-sets/{ds}/resume", {})
        assert err.value.status == 402 and err.value.code == "budget_exceeded"
        import subprocess
        import sys

        def amp(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "amp_cli.main", *args, "--gateway", gw], capture_output=True,
                                  text=True, timeout=60, env={**os.environ, "AMP_TOKEN": stack.token("test-user")})

        raised = amp("budget", project["id"], "--set", "100", "--json")
        assert raised.returncode == 0 and '"limit_usd": 100' in raised.stdout.replace("100.0", "100"), raised.stderr
        assert amp("resume", ds).returncode == 0
        end = follow(client, ds, is_gate, last=eid)[-1]
        assert end[0] == "gate-waiting" and end[1]["gate"] == "pre-codegen"
        usage = client.get(f"/projects/{project['id']}/llm-usage")
        assert usage["budget"]["level"] in ("ok", "warn") and usage["by_node"]
        assert sum(n["calls"] for n in usage["by_node"]) > 0
        v1 = usage["by_version"][0]
        assert v1["actual_usd"] > 0 and v1["actual_tokens"] > 0  # the estimate, kept beside what was spent
        assert v1["estimate_usd"] == paused["by_version"][0]["estimate_usd"]
    finally:
        client.close()
