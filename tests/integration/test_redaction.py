"""Secrets and personal data planted in requirements, answers and comments reach no sink.

One run through every service with planted values in the requirement text, the intake answer
and the approval comment; then every place the platform writes is searched for them: the REST
read models, the SSE stream, the event log, every table (LangGraph's checkpoints included), every
message on the bus, every service's log, the generated repository, and every file of the
artifact store. A second run, against a scripted model that answers the extraction once in an
invalid shape (echoing the text it was given), puts that answer in the store's `quarantine/`
folder, so the quarantined model payloads are searched too.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import asyncpg
import nats
import pytest
from fakes.anthropic_server import FakeAnthropicServer, Reply, tool_reply
from fakes.scripted_model import ScriptedModel
from nats.js.api import DeliverPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from flows import follow, waivers_for  # noqa: E402

pytestmark = pytest.mark.integration

EMAIL = "jane.doe@contoso-payments.example"
PASSWORD = "Tr0ub4dorXyz9"
CARD = "4111 1111 1111 1111"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PLANTED = [EMAIL, PASSWORD, CARD, CARD.replace(" ", ""), AWS_KEY, GITHUB]

TEXT = (f"Real-time card fraud scoring API: p95 under 80 ms at 3,000 requests per second, 99.9% availability, "
        f"budget $6,000 per month. Internal data. Containers. Retrain weekly. Questions to {EMAIL}; the staging "
        f"database password: {PASSWORD}; test card {CARD}.")


def _absent(where: str, blob: str | bytes) -> None:
    for value in PLANTED:
        needle = value.encode() if isinstance(blob, bytes) else value
        assert needle not in blob, f"{value!r} reached {where}"


def _artifact_store(root: Path) -> int:
    """Every file the local artifact store holds (zips, trees, the quarantine), searched byte for byte."""
    files = [f for f in root.rglob("*") if f.is_file()]
    for f in files:
        _absent(f"the artifact store's {f.relative_to(root)}", f.read_bytes())
        if f.suffix == ".zip":
            with zipfile.ZipFile(f) as z:
                for name in z.namelist():
                    _absent(f"{name} in the stored {f.name}", z.read(name))
    return len(files)


async def _tables(database_url: str, ds: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        tables = [r["table_name"] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE'")]
        searched = 0
        for table in tables:
            for value in PLANTED:
                hits = await conn.fetchval(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE $1', f"%{value}%")
                assert hits == 0, f"{value!r} reached table {table}"
            cols = await conn.fetch("SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
                                    "AND data_type = 'bytea'", table)
            for col in cols:
                for value in PLANTED:
                    hits = await conn.fetchval(
                        f'SELECT count(*) FROM "{table}" WHERE position($1::bytea in "{col["column_name"]}") > 0',
                        value.encode())
                    assert hits == 0, f"{value!r} reached {table}.{col['column_name']}"
            searched += 1
        marked = await conn.fetchval("SELECT requirements FROM decision_sets WHERE id = $1::uuid", ds)
        assert "[REDACTED:email]" in marked and "[REDACTED:secret]" in marked and "[REDACTED:card]" in marked
        return searched
    finally:
        await conn.close()


async def _bus(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe("amp.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        seen = 0
        while True:
            try:
                msg = await sub.next_msg(timeout=2)
            except nats.errors.TimeoutError:
                break
            _absent(f"bus subject {msg.subject}", msg.data)
            seen += 1
        await sub.unsubscribe()
        return seen
    finally:
        await nc.close()


def test_planted_secrets_reach_no_sink(stack, client, settings, nats_url) -> None:
    project = client.create_project("redaction", description=f"owner {EMAIL}")
    ds = client.submit(project["id"], TEXT)["decision_set_id"]
    frames = follow(client, ds, lambda ev, data: ev == "gate-waiting")
    gate = frames[-1][1]
    if gate.get("gate") == "intake":
        client.answer(ds, {"regions": ["eu-west-1"], "cloud": "aws"},
                      text=f"eu-west-1; my key is {AWS_KEY}", interrupt_id=gate["interrupt_id"])
        frames += follow(client, ds, lambda ev, data: ev == "gate-waiting" and data.get("gate") == "pre-codegen",
                         last=frames[-1][2])
    waivers = waivers_for(client.decision_set(ds)["policy"] or {"rules": []}, reason=f"ask {EMAIL}")
    client.approve(ds, "approved", comment=f"fine, token {GITHUB}, call {EMAIL}", waivers=waivers)
    frames += follow(client, ds, lambda ev, data: ev == "run-complete", last=frames[-1][2])
    assert frames[-1][1]["status"] == "completed", frames[-1]

    _absent("the SSE stream", repr(frames))
    _absent("the event log", repr(client.all_events(ds)))
    _absent("the decision set", repr(client.decision_set(ds)))
    _absent("the project", repr(client.project(project["id"])))
    with zipfile.ZipFile(io.BytesIO(client.artifact(ds))) as z:
        for name in z.namelist():
            _absent(f"the artifact's {name}", z.read(name))
    logs = list((settings.data_dir / "logs").glob("*.log"))
    assert logs
    for log in logs:
        _absent(f"log {log.name}", log.read_bytes())
    assert _artifact_store(settings.artifacts_dir) > 0
    assert asyncio.run(_tables(settings.database_url, ds)) > 5
    assert asyncio.run(_bus(nats_url)) > 0


class InvalidOnce:
    """The scripted model, except that its first extraction answer is out of shape and repeats the text it got."""

    def __init__(self) -> None:
        self.model = ScriptedModel()
        self.seen: list[str] = []

    def __call__(self, req: dict[str, Any]) -> Reply:
        if (req.get("tool_choice") or {}).get("name") == "record_constraints" and not self.seen:
            self.seen.append(json.dumps(req["messages"]))
            return tool_reply("record_constraints", {"constraints": {"cloud": "mars", "regions": "everywhere"},
                                                     "evidence": [{"field": "cloud", "quote": self.seen[0]}]})
        return self.model(req)


@pytest.fixture(scope="module")
def quarantining_stack(settings, tmp_root):
    """Every agent against a scripted model, one answer allowed per call: an invalid one is quarantined at once."""
    from amp_cli.stack import Stack
    from amp_runtime.embedded import EmbeddedNats, free_port

    server = FakeAnthropicServer().start()
    model = InvalidOnce()
    server.respond(model)
    bus = EmbeddedNats(tmp_root / "redaction-nats").start()
    s = Stack(settings.model_copy(update={"gateway_port": free_port(), "data_dir": tmp_root / "redaction-model",
                                          "nats_url": bus.url}),
              env={"AMP_PROVIDER": "anthropic", "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": server.url,
                   "AMP_MODEL": "claude-sonnet-4-6", "AMP_FALLBACK_MODEL": "none", "AMP_LLM_MAX_ATTEMPTS": "1"})
    s.start_services()
    yield s, model
    s.stop()
    bus.stop()
    server.stop()


def test_planted_secrets_reach_no_quarantined_model_payload(quarantining_stack, settings) -> None:
    from amp_cli.client import Client

    stack, model = quarantining_stack
    client = Client(stack.gateway_url, timeout=60, token=stack.token("test-user"))
    try:
        project = client.create_project("redaction, quarantined")
        ds = client.submit(project["id"], TEXT)["decision_set_id"]
        quarantine = stack.settings.artifacts_dir / "quarantine" / project["id"]
        deadline = time.monotonic() + 120
        while not (quarantine.is_dir() and any(quarantine.rglob("*.json"))) and time.monotonic() < deadline:
            time.sleep(0.5)
        held = list(quarantine.rglob("*.json"))
        assert held, "the invalid answer was not quarantined"
        # the step is tried again and goes on (the model answers in shape from then on), or the run stops
        follow(client, ds, lambda ev, data: ev in ("gate-waiting", "run-complete", "run-error"))
        events = client.all_events(ds)
    finally:
        client.close()
    assert model.seen and "[REDACTED:" in model.seen[0]  # the model saw the text, redacted on the way in
    stored = json.loads(held[0].read_text())
    assert stored["attempts"] and "[REDACTED:" in json.dumps(stored)  # the model's echo of it, kept for review
    assert _artifact_store(stack.settings.artifacts_dir) >= len(held)
    _absent("the event log", repr(events))
    logs = list((stack.settings.data_dir / "logs").glob("*.log"))
    assert logs
    for log in logs:
        _absent(f"log {log.name}", log.read_bytes())
    assert asyncio.run(_tables(settings.database_url, ds)) > 5
