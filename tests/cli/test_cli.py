"""The `amp` command line against the running platform: runs, prompts on a terminal, exit codes, read commands."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from cli_helpers import COMPLETE, NO_REGION, amp

pytestmark = pytest.mark.integration


def one_line_error(stderr: str, code: str | tuple[str, ...]) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    codes = (code,) if isinstance(code, str) else code
    assert any(lines[0].startswith(f"amp: {c}: ") for c in codes), lines[0]
    return lines[0]


def test_run_auto_approve_json_writes_the_repository(completed_run):
    p, out, ds = completed_run["proc"], completed_run["out"], completed_run["ds"]
    assert p.returncode == 0, p.stderr[-3000:]
    assert ds is not None and ds["status"] == "completed"
    assert ds["plan"]["components"] and ds["plan"]["cloud"] == "aws"
    assert ds["cost"]["monthly_usd"] > 0
    assert ds["policy"]["overall"] in ("pass", "warn", "fail")
    assert ds["artifact_path"] == str(out.resolve())
    assert (out / "infra").is_dir() and (out / "README.md").is_file()
    # progress went to stderr, one line per Reason Card, so stdout stayed pure JSON
    assert "planner" in p.stderr and "critic: cost" in p.stderr


def test_run_interactive_answers_questions_and_approves(stack, terminal, tmp_path):
    out = tmp_path / "repo"
    t = terminal(["run", NO_REGION, "--gateway", stack.gateway_url, "--out", str(out)])
    asked: list[str] = []
    decided = False
    for _ in range(30):
        prompt = t.next_prompt(timeout=180)
        if prompt is None:
            break
        m = re.match(r"^(\w+)(?: \([^)]*\))?(?: \[([^\]]*)\])?: $", prompt)
        if prompt.startswith("Decision?"):
            decided = True
            t.send("approve")
        elif prompt.startswith("Comment"):
            t.send("approved from a terminal")
        elif prompt.startswith("Policy rule"):
            t.send("accepted for the test run")
        elif prompt.startswith("Anything else"):
            t.send("")
        elif m:
            field = m.group(1)
            asked.append(field)
            t.send({"cloud": "aws", "regions": "eu-west-1"}.get(field, "" if m.group(2) else "1"))
        else:
            pytest.fail(f"unexpected prompt {prompt!r}\n{t.text[-3000:]}")
    rc = t.wait(120)
    text = t.text
    assert rc == 0, text[-4000:]
    assert "regions" in asked, (asked, text[-3000:])
    assert decided, text[-3000:]
    assert "Monthly cost" in text and "Policy:" in text  # the tables at the gate
    assert "completed" in text
    assert (out / "README.md").is_file()


def test_closed_input_at_the_gate_leaves_the_run_waiting(stack, terminal):
    """Ctrl-D at the approval prompt decides nothing: exit 4 naming the way on, no traceback."""
    t = terminal(["run", COMPLETE, "--gateway", stack.gateway_url])
    prompt = t.next_prompt(timeout=180)
    assert prompt is not None and prompt.startswith("Decision?"), t.text[-3000:]
    t.send_eof()
    rc = t.wait(60)
    text = t.text
    assert rc == 4, text[-3000:]
    assert "Traceback" not in text
    assert "waits for approval: amp approve" in text
    assert text.count("waiting pre-codegen gate") == 1, text[-3000:]


def test_run_without_a_terminal_lists_the_questions(stack):
    p = amp(stack.gateway_url, "run", NO_REGION, "--json")
    assert p.returncode == 3, p.stderr[-3000:]
    assert "regions" in p.stderr and "amp answer" in p.stderr
    assert "Traceback" not in p.stderr
    ds = json.loads(p.stdout)
    assert ds["status"] == "waiting_intake"
    assert any(q["field"] == "regions" for q in ds["gate"]["questions"])

    # the same decision set answered by `amp answer`, then followed to the approval gate
    a = amp(stack.gateway_url, "answer", ds["id"], "--set", "regions=eu-west-1", "--set", "cloud=aws", "--json")
    assert a.returncode == 0, a.stderr
    assert json.loads(a.stdout)["status"] == "answering"
    w = amp(stack.gateway_url, "watch", ds["id"], "--exit-at-gate")
    assert w.returncode == 4, w.stderr + w.stdout
    assert f"amp approve {ds['id']}" in w.stdout


def test_approve_twice_is_a_one_line_conflict(stack):
    p = amp(stack.gateway_url, "run", COMPLETE, "--json")
    assert p.returncode == 4, p.stderr[-3000:]
    ds = json.loads(p.stdout)
    assert ds["status"] == "waiting_approval"
    assert f"amp approve {ds['id']}" in p.stderr

    first = amp(stack.gateway_url, "approve", ds["id"], "--comment", "ship it", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["status"] == "approved"
    second = amp(stack.gateway_url, "approve", ds["id"])
    assert second.returncode == 1
    one_line_error(second.stderr, ("conflict", "gate_closed"))

    w = amp(stack.gateway_url, "watch", ds["id"], "--json")
    assert w.returncode == 0, w.stderr[-3000:]
    events = [json.loads(line) for line in w.stdout.splitlines() if line.strip()]
    assert events[-1]["event"] == "run-complete" and events[-1]["data"]["status"] == "completed"


def test_read_commands_on_a_completed_decision_set(stack, completed_run, tmp_path):
    ds = completed_run["ds"]
    assert ds is not None and ds["status"] == "completed", completed_run["proc"].stderr[-3000:]
    gw = stack.gateway_url

    p = amp(gw, "show", ds["id"], "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["id"] == ds["id"]
    p = amp(gw, "show", ds["id"])
    assert p.returncode == 0 and "completed" in p.stdout and "Monthly cost" in p.stdout

    p = amp(gw, "events", ds["id"], "--json")
    assert p.returncode == 0
    events = json.loads(p.stdout)["events"]
    kinds = [e["type"] for e in events]
    assert "reason-card" in kinds and kinds[-1] == "run-complete"
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    p = amp(gw, "events", ds["id"])
    assert p.returncode == 0 and "done" in p.stdout

    p = amp(gw, "diff", ds["id"], "--json")
    assert p.returncode == 0, p.stderr
    diff = json.loads(p.stdout)
    assert diff["decision_set_id"] == ds["id"] and "README.md" in diff["unified"]
    p = amp(gw, "diff", ds["id"])
    assert p.returncode == 0 and p.stdout == diff["unified"] + ("" if diff["unified"].endswith("\n") else "\n")

    out = tmp_path / "export"
    p = amp(gw, "export", ds["id"], "--out", str(out), "--json")
    assert p.returncode == 0, p.stderr
    exported = json.loads(p.stdout)
    assert "README.md" in exported["files"] and (out / "README.md").is_file() and (out / "infra").is_dir()

    p = amp(gw, "projects", "--json")
    assert p.returncode == 0
    assert ds["project_id"] in {x["id"] for x in json.loads(p.stdout)["projects"]}
    p = amp(gw, "projects")
    assert p.returncode == 0 and ds["project_id"] in p.stdout

    p = amp(gw, "watch", ds["id"])  # a finished run replays to its end
    assert p.returncode == 0 and "diff & persist" in p.stdout


@pytest.mark.parametrize("command", ["show", "events", "watch", "diff", "approve"])
def test_unknown_decision_set_is_a_one_line_not_found(stack, command):
    p = amp(stack.gateway_url, command, str(uuid.uuid4()))
    assert p.returncode == 1
    line = one_line_error(p.stderr, "not_found")
    assert "not found" in line


def test_unreachable_gateway_and_usage_errors(tmp_path):
    p = amp("http://127.0.0.1:9", "show", str(uuid.uuid4()))
    assert p.returncode == 1
    one_line_error(p.stderr, "unreachable")
    p = amp("http://127.0.0.1:9", "approve", str(uuid.uuid4()), "--waive", "no-reason")
    assert p.returncode == 2 and "RULE=REASON" in p.stderr
    p = amp("http://127.0.0.1:9", "approve", "x", "--reject", "--changes")
    assert p.returncode == 2


def test_reject_then_watch_exits_7(stack):
    p = amp(stack.gateway_url, "run", COMPLETE, "--json")
    assert p.returncode == 4, p.stderr[-3000:]
    ds_id = json.loads(p.stdout)["id"]
    c = amp(stack.gateway_url, "approve", ds_id, "--changes")
    assert c.returncode == 2 and "--comment" in c.stderr
    r = amp(stack.gateway_url, "approve", ds_id, "--reject", "--comment", "too costly")
    assert r.returncode == 0, r.stderr
    w = amp(stack.gateway_url, "watch", ds_id)
    assert w.returncode == 7, w.stderr + w.stdout
    assert json.loads(amp(stack.gateway_url, "show", ds_id, "--json").stdout)["status"] == "rejected"
