"""`amp run`: the one-shot main job — requirements in, a generated repository out."""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.prompt import Confirm, Prompt

from .client import ApiError, Client
from .output import console, cost_table, describe, policy_table

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_QUESTIONS, EXIT_APPROVAL, EXIT_POLICY, EXIT_FAILED, EXIT_REJECTED = range(8)


class RunStop(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class RunOptions:
    text: str
    auto_approve: bool = False
    answers: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None
    json: bool = False
    interactive: bool = False
    waivers: list[dict[str, str]] = field(default_factory=list)
    comment: str = ""
    project: str | None = None


def project_name(text: str) -> str:
    words = re.findall(r"[A-Za-z][A-Za-z0-9-]+", text)[:6]
    return " ".join(words) or "ml-platform"


def drive(client: Client, opts: RunOptions, current: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Follow one decision set (and its successors) to the end; returns (exit code, decision set)."""
    out = console(opts.json)
    pid = opts.project or client.create_project(project_name(opts.text))["id"]
    ds_id = current["ds_id"] = client.submit(pid, opts.text)["decision_set_id"]
    out.print(f"[dim]decision set {ds_id}[/]")
    last: int | None = None
    asked: set[str] = set()
    while True:
        status = None
        for ev, data, eid in client.stream(ds_id, last):
            last = eid if eid is not None else last
            line = describe(ev, data)
            if line:
                out.print(line)
            if ev == "gate-waiting" and data.get("gate") == "intake":
                answer_questions(client, ds_id, data, opts, asked, out)
            elif ev == "gate-waiting" and data.get("gate") == "pre-codegen":
                decide(client, ds_id, data, opts, out)
            elif ev == "run-complete":
                status = data
        if status and status.get("status") == "superseded" and status.get("next_decision_set_id"):
            ds_id, last = status["next_decision_set_id"], None
            current["ds_id"] = ds_id
            out.print(f"[dim]re-planning as decision set {ds_id}[/]")
            continue
        final = client.decision_set(ds_id)
        code = {"completed": EXIT_OK, "rejected": EXIT_REJECTED}.get(final["status"], EXIT_FAILED)
        return code, final


def answer_questions(client: Client, ds_id: str, gate: dict, opts: RunOptions, asked: set[str], out) -> None:
    questions = gate.get("questions") or []
    answers: dict[str, Any] = {}
    unanswered = []
    for q in questions:
        field_name = q["field"]
        if field_name in opts.answers and field_name not in asked:
            answers[field_name] = opts.answers[field_name]
        elif opts.interactive:
            answers[field_name] = ask(q)
        else:
            unanswered.append(q)
        asked.add(field_name)
    if unanswered:
        lines = "; ".join(f"{q['field']}: {q['prompt']}" + (f" [{'/'.join(map(str, q['options']))}]" if q.get("options") else "")
                          for q in unanswered)
        raise RunStop(EXIT_QUESTIONS, f"the intake needs answers (pass --answers FILE or run on a terminal): {lines}")
    client.answer(ds_id, answers, interrupt_id=gate.get("interrupt_id"))


def ask(q: dict[str, Any]) -> Any:
    default = q.get("default")
    prompt = q["prompt"] + (f" ({q['why']})" if q.get("why") else "")
    if q.get("kind") == "choice" and q.get("options"):
        return Prompt.ask(prompt, choices=[str(o) for o in q["options"]],
                          default=str(default) if default is not None else None)
    if q.get("kind") == "multi":
        raw = Prompt.ask(prompt + " (comma-separated" + (f"; options {', '.join(map(str, q['options']))}" if q.get("options") else "") + ")",
                         default=",".join(default) if isinstance(default, list) else (str(default) if default else None))
        return [x.strip() for x in (raw or "").split(",") if x.strip()]
    raw = Prompt.ask(prompt, default=str(default) if default is not None else None)
    if q.get("kind") == "number":
        try:
            return float(str(raw).replace(",", "").replace("$", ""))
        except ValueError:
            return raw
    return raw


def decide(client: Client, ds_id: str, gate: dict, opts: RunOptions, out) -> None:
    if gate.get("cost"):
        out.print(cost_table(gate["cost"]))
    if gate.get("policy"):
        out.print(policy_table(gate["policy"]))
    failed = [r["id"] for r in (gate.get("policy") or {}).get("rules", []) if r["status"] == "fail" and not r.get("waived")]
    if opts.auto_approve:
        status, comment = "approved", opts.comment
    elif opts.interactive:
        choice = Prompt.ask("Decision", choices=["approve", "changes", "reject"], default="approve")
        status = {"approve": "approved", "changes": "changes_requested", "reject": "rejected"}[choice]
        comment = Prompt.ask("Comment", default="") if status != "approved" or Confirm.ask("Add a comment?", default=False) else ""
    else:
        raise RunStop(EXIT_APPROVAL, f"decision set {ds_id} waits for approval: amp approve {ds_id} "
                                     "(or pass --auto-approve)")
    waivers = [w for w in opts.waivers if w["rule_id"] in failed]
    if status == "approved" and set(failed) - {w["rule_id"] for w in waivers}:
        missing = sorted(set(failed) - {w["rule_id"] for w in waivers})
        raise RunStop(EXIT_POLICY, f"policy failed on {', '.join(missing)}; approving needs a waiver for each "
                                   f"(--waive RULE=REASON)")
    client.approve(ds_id, status, comment, waivers)


def write_repository(data: bytes, out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            target = (out_dir / info.filename).resolve()
            if not str(target).startswith(str(out_dir.resolve())):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(info))
            if info.external_attr >> 16 & 0o111:
                target.chmod(0o755)
        return len(z.infolist())


def run(client: Client, opts: RunOptions) -> int:
    out = console(opts.json)
    final: dict[str, Any] | None = None
    current: dict[str, str] = {}
    try:
        code, final = drive(client, opts, current)
    except RunStop as stop:
        out.print(f"[bold red]amp:[/] {stop}")
        code = stop.code
    except ApiError as e:
        out.print(f"[bold red]amp:[/] {e.code}: {e.message}")
        return EXIT_ERROR
    if final is None and current.get("ds_id"):
        final = client.decision_set(current["ds_id"])
    if final is not None and final.get("status") == "completed" and opts.out:
        n = write_repository(client.artifact(final["id"]), opts.out)
        final["artifact_path"] = str(opts.out.resolve())
        out.print(f"[green]wrote {n} files to {opts.out}[/]")
    if opts.json and final is not None:
        sys.stdout.write(json.dumps(final, indent=2, default=str) + "\n")
    elif final is not None:
        summary(final, out)
    return code


def summary(ds: dict[str, Any], out) -> None:
    plan = ds.get("plan") or {}
    cost = ds.get("cost") or {}
    policy = ds.get("policy") or {}
    out.print(f"[bold]decision set v{ds.get('version')} {ds.get('status')}[/] — "
              f"{len(plan.get('components') or [])} components on {plan.get('cloud')}, "
              f"${cost.get('monthly_usd', 0):,.2f}/month, policy {policy.get('overall')}")
