"""`amp webhooks …` against the running platform: subscribe, list, change, rotate, read the log, redeliver, delete."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from cli_helpers import COMPLETE, amp
from standardwebhooks.webhooks import Webhook

from tests.fakes.webhook_receiver import Receiver

pytestmark = pytest.mark.integration


def one_line_error(stderr: str, code: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    assert lines[0].startswith(f"amp: {code}: "), lines[0]


def test_webhook_verbs(stack, auth_headers) -> None:
    gw = stack.gateway_url
    with Receiver() as receiver, httpx.Client(base_url=gw, timeout=30, headers=auth_headers) as api:
        project = api.post("/projects", json={"name": "cli hooks"}).json()["id"]
        p = amp(gw, "webhooks", "events", "--json")
        assert p.returncode == 0 and len(json.loads(p.stdout)["event_types"]) == 8

        p = amp(gw, "webhooks", "add", project, receiver.url("/cli"), "--event", "plan.ready", "--event",
                "gate.waiting", "--description", "from the CLI", "--json")
        assert p.returncode == 0, p.stderr
        hook = json.loads(p.stdout)
        assert hook["secret"].startswith("whsec_") and hook["events"] == ["plan.ready", "gate.waiting"]
        p = amp(gw, "webhooks", "add", project, receiver.url("/human"))  # people see the secret, once, and a warning
        assert p.returncode == 0 and "whsec_" in p.stdout and "shown once" in p.stderr
        assert "run.complete" in p.stdout  # every event type by default

        p = amp(gw, "webhooks", "list", project)
        assert p.returncode == 0 and "/cli" in p.stdout and "whsec_" not in p.stdout
        listed = json.loads(amp(gw, "webhooks", "list", project, "--json").stdout)["webhooks"]
        assert len(listed) == 2 and all("secret" not in h for h in listed)

        p = amp(gw, "webhooks", "disable", project, hook["id"], "--json")
        assert p.returncode == 0 and json.loads(p.stdout)["enabled"] is False
        p = amp(gw, "webhooks", "enable", project, hook["id"], "--json")
        assert p.returncode == 0 and json.loads(p.stdout)["enabled"] is True
        p = amp(gw, "webhooks", "rotate", project, hook["id"], "--overlap", "600", "--json")
        rotated = json.loads(p.stdout)
        assert p.returncode == 0 and rotated["secret"] != hook["secret"] and rotated["previous_secret_expires_at"]

        api.post(f"/projects/{project}/constraints", json={"text": COMPLETE})
        reqs = receiver.wait("/cli", 2, timeout=180)
        for r in reqs:  # both secrets sign during the overlap
            Webhook(rotated["secret"]).verify(r.body, r.headers)
            Webhook(hook["secret"]).verify(r.body, r.headers)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = json.loads(amp(gw, "webhooks", "deliveries", project, hook["id"], "--json").stdout)["deliveries"]
            if len(rows) == 2 and all(d["state"] == "delivered" for d in rows):
                break
            time.sleep(0.3)
        assert {d["event_type"] for d in rows} == {"plan.ready", "gate.waiting"}
        p = amp(gw, "webhooks", "deliveries", project, hook["id"])
        assert p.returncode == 0 and "delivered" in p.stdout and "200" in p.stdout
        p = amp(gw, "webhooks", "redeliver", project, hook["id"], rows[0]["id"], "--json")
        assert p.returncode == 0 and json.loads(p.stdout)["state"] == "pending"
        receiver.wait("/cli", 3, timeout=30)
        assert receiver.at("/cli")[2].headers["webhook-id"] == rows[0]["message_id"]

        one_line_error(amp(gw, "webhooks", "show", project, str(uuid.uuid4())).stderr, "not_found")
        bad = amp(gw, "webhooks", "add", project, "ftp://example.com/hook")
        assert bad.returncode == 1
        one_line_error(bad.stderr, "validation_failed")
        assert amp(gw, "webhooks", "add", project, receiver.url("/x"), "--event", "nope").returncode == 2

        p = amp(gw, "webhooks", "delete", project, hook["id"])
        assert p.returncode == 0
        assert amp(gw, "webhooks", "show", project, hook["id"]).returncode == 1
