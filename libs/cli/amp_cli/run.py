"""`amp run`: the one-shot main job — requirements in, a generated repository out.

Exit codes (shared by every gateway command, see `commands.EXIT_CODES`): 0 completed, 1 API or
other error, 2 usage, 3 intake questions unanswered, 4 waiting for approval, 5 policy blocked,
6 run failed, 7 rejected. With `--json` the decision set is printed on stdout in every case.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from .client import ApiError, Client
from .output import (
    StageView,
    console,
    cost_table,
    err_console,
    plan_table,
    policy_table,
    review_tables,
    validation_failed,
    validation_table,
)

(EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_QUESTIONS, EXIT_APPROVAL, EXIT_POLICY, EXIT_FAILED, EXIT_REJECTED,
 EXIT_VALIDATION) = range(9)
#: Decision-set status → exit code, for commands that report where a decision set stands.
STATUS_EXIT = {"completed": EXIT_OK, "rejected": EXIT_REJECTED, "failed": EXIT_FAILED, "stale": EXIT_FAILED,
               "waiting_intake": EXIT_QUESTIONS, "waiting_approval": EXIT_APPROVAL, "expiring": EXIT_APPROVAL}
#: API error code → exit code.
ERROR_EXIT = {"policy_blocked": EXIT_POLICY, "validation_failed": EXIT_USAGE}


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


def project_name(text: str, limit: int = 60) -> str:
    """A name from the requirement's first clause, cut only between words.

    "Real-time card fraud scoring API on AWS eu-west-1: p95 …" names the project
    "Real-time card fraud scoring API": the clause before the first colon, sentence end or
    semicolon, without a trailing "on/in <cloud or region>" phrase, at most `limit` characters.
    """
    clause = re.split(r"[:;\n]|\.(?:\s|$)", text.strip(), maxsplit=1)[0]
    clause = re.sub(r"\s+(?:on|in|for|at)\s+(?:AWS|GCP|Azure|Google Cloud|[a-z]{2}-[a-z]+-\d)\b.*$", "", clause,
                    flags=re.IGNORECASE)
    words = clause.split()
    name = ""
    for word in words:
        if len(name) + len(word) + (1 if name else 0) > limit:
            break
        name = f"{name} {word}" if name else word
    return name.rstrip(",-–—(") or "ML system"


def drive(client: Client, opts: RunOptions, current: dict[str, str], view: StageView) -> tuple[int, dict[str, Any]]:
    """Follow one decision set (and its successors) to the end; returns (exit code, decision set)."""
    started = time.time()
    pid = opts.project or client.create_project(project_name(opts.text))["id"]
    ds_id = current["ds_id"] = client.submit(pid, opts.text)["decision_set_id"]
    view.print(f"[dim]decision set {ds_id}[/]")
    view.reset(started)
    view.start()
    last: int | None = None
    asked: set[str] = set()
    while True:
        status = None
        for ev, data, eid in client.follow(ds_id, last):
            last = eid if eid is not None else last
            view.handle(ev, data)
            if ev == "gate-waiting" and data.get("gate") == "intake":
                answer_questions(client, ds_id, data, opts, asked, view)
            elif ev == "gate-waiting" and data.get("gate") == "pre-codegen":
                decide(client, ds_id, data, opts, view)
            elif ev == "gate-waiting" and data.get("gate") == "budget":
                raise RunStop(EXIT_ERROR, f"paused: {data.get('message')} Raise it (PUT /projects/{{id}}/llm-budget), "
                                          f"then POST /decision-sets/{ds_id}/resume.")
            elif ev == "gate-waiting" and data.get("gate") == "error":
                raise RunStop(EXIT_ERROR, f"stopped after repeated errors: {data.get('message')} "
                                          f"`amp resume {ds_id}` runs the step again.")
            elif ev == "run-complete":
                status = data
        if status and status.get("status") == "superseded" and status.get("next_decision_set_id"):
            ds_id, last = status["next_decision_set_id"], None
            current["ds_id"] = ds_id
            view.print(f"[dim]re-planning as decision set {ds_id}[/]")
            view.reset(time.time())
            continue
        view.stop()
        final = client.decision_set(ds_id)
        if validation_failed(final):
            return EXIT_VALIDATION, final
        return STATUS_EXIT.get(final["status"], EXIT_FAILED), final


# --------------------------------------------------------------------------- intake questions

def answer_questions(client: Client, ds_id: str, gate: dict, opts: RunOptions, asked: set[str],
                     view: StageView) -> None:
    questions = gate.get("questions") or []
    answers: dict[str, Any] = {}
    unanswered = []
    pending = []
    for q in questions:
        field_name = q["field"]
        if field_name in opts.answers and field_name not in asked:
            answers[field_name] = opts.answers[field_name]
        elif opts.interactive:
            pending.append(q)
        else:
            unanswered.append(q)
        asked.add(field_name)
    if unanswered:
        raise RunStop(EXIT_QUESTIONS, "the intake needs answers (pass --answers FILE, or run on a terminal, "
                                      f"or `amp answer {ds_id}`): {questions_line(unanswered)}")
    if pending:
        try:
            text = _ask_pending(pending, answers, view)
        except EOFError:
            raise RunStop(EXIT_QUESTIONS, f"input closed before the answers: {questions_line(pending)}") from None
    else:
        text = ""
    client.answer(ds_id, answers, text=text, interrupt_id=gate.get("interrupt_id"))


def _ask_pending(pending: list[dict[str, Any]], answers: dict[str, Any], view: StageView) -> str:
    """Ask each pending question on the terminal, filling `answers`; returns any free text added."""
    with view.paused():
        view.out.print(f"[bold yellow]The intake needs {len(pending)} answer(s)[/] "
                       "[dim](Enter takes the default; a number picks a numbered option)[/]")
        for q in pending:
            value = ask(following(q, answers), view.out)
            if value is not None:
                answers[q["field"]] = value
        if answers:
            return ""
        text = view.out.input("Anything else to add (free text)? ").strip()
        if not text:
            raise RunStop(EXIT_QUESTIONS, f"no answers given: {questions_line(pending)}")
    return text


def following(q: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """The question with the options that follow an answer given before it (regions after the cloud)."""
    chosen = answers.get(q.get("depends_on") or "")
    by = q.get("options_by") or {}
    return {**q, "options": by[chosen]} if isinstance(chosen, str) and chosen in by else q


def questions_line(questions: list[dict[str, Any]]) -> str:
    return "; ".join(f"{q['field']}: {q['prompt']}" + (f" [{'/'.join(map(str, q['options']))}]" if q.get("options") else "")
                     for q in questions)


def _show_default(default: Any) -> str:
    if default is None or default == [] or default == "":
        return ""
    return ", ".join(map(str, default)) if isinstance(default, list) else str(default)


def ask(q: dict[str, Any], out: Console | None = None) -> Any:
    """Prompt for one question: choices by value or number, multi as a comma-separated list.

    Returns the typed answer (a string, or a list for `multi`), or None when skipped (an
    optional question without a default left empty). The gateway reads answers with the same
    grammar as freeform text, so "6k" or "Frankfurt" are fine.
    """
    out = out or Console(highlight=False)
    options = [str(o) for o in q.get("options") or []]
    kind = q.get("kind", "text")
    default = _show_default(q.get("default"))
    out.print(f"\n[bold]{escape(q['field'])}[/] · {escape(q['prompt'])}"
              + (f"\n  [dim]{escape(q['why'])}[/]" if q.get("why") else ""))
    if options and kind == "number":  # typed as the value itself: "2" is 2, not the second suggestion
        out.print("  [dim]for example[/] " + ", ".join(escape(o) for o in options))
    elif options:
        out.print("  " + "  ".join(f"[cyan]{i}[/]) {escape(o)}" for i, o in enumerate(options, 1)))
    hint = {"multi": " (comma-separated)", "number": " (a number)"}.get(kind, "")
    prompt = f"{q['field']}{hint}" + (f" [{default}]" if default else "") + ": "
    for _ in range(20):
        raw = out.input(escape(prompt)).strip()
        if not raw:
            if default:
                raw = default
            elif not q.get("blocking"):
                return None
            else:
                out.print("[red]  an answer is needed here[/]")
                continue
        value, problem = _read_answer(raw, kind, options)
        if problem is None:
            return value
        out.print(f"[red]  {escape(problem)}[/]")
    raise RunStop(EXIT_QUESTIONS, f"no valid answer for {q['field']}")


def _pick(token: str, options: list[str]) -> str | None:
    token = token.strip()
    if token.isdigit() and options and 1 <= int(token) <= len(options):
        return options[int(token) - 1]
    return next((o for o in options if o.lower() == token.lower()), None)


def _read_answer(raw: str, kind: str, options: list[str]) -> tuple[Any, str | None]:
    if kind == "choice" and options:
        picked = _pick(raw, options)
        return (picked, None) if picked is not None else (None, f"choose one of {', '.join(options)} (or 1-{len(options)})")
    if kind == "multi":
        if raw.lower() in ("none", "-", "no"):
            return [], None
        items = [p.strip() for p in raw.split(",") if p.strip()]
        return [(_pick(p, options) or p) for p in items], None
    return raw, None


# --------------------------------------------------------------------------- approval gate

def decide(client: Client, ds_id: str, gate: dict, opts: RunOptions, view: StageView) -> None:
    out = view.out
    if gate.get("plan") and opts.interactive:
        view.print(plan_table(gate["plan"]))
    review = (client.decision_set(ds_id) or {}).get("review")
    if review:
        for table in review_tables(review):
            view.print(table)
    elif gate.get("cost"):
        view.print(cost_table(gate["cost"]))
    if gate.get("policy"):
        view.print(policy_table(gate["policy"]))
    failed = [r["id"] for r in (gate.get("policy") or {}).get("rules", []) if r["status"] == "fail" and not r.get("waived")]
    waivers = [w for w in opts.waivers if w["rule_id"] in failed]
    comment = opts.comment
    if opts.auto_approve:
        status = "approved"
    elif opts.interactive:
        try:
            with view.paused():
                status, comment, waivers = prompt_decision(out, failed, waivers, comment)
        except EOFError:
            raise RunStop(EXIT_APPROVAL, f"no decision given (input closed); decision set {ds_id} waits for "
                                         f"approval: amp approve {ds_id}") from None
    else:
        raise RunStop(EXIT_APPROVAL, f"decision set {ds_id} waits for approval: amp approve {ds_id} "
                                     "(or pass --auto-approve)")
    missing = sorted(set(failed) - {w["rule_id"] for w in waivers})
    if status == "approved" and missing:
        raise RunStop(EXIT_POLICY, f"policy failed on {', '.join(missing)}; approving needs a waiver for each "
                                   f"(--waive RULE=REASON)")
    client.approve(ds_id, status, comment, waivers, by=os.environ.get("USER") or "cli")
    view.print(f"[bold]{'decision':>16}[/] {status}" + (f": {escape(comment)}" if comment else ""))


def prompt_decision(out: Console, failed: list[str], waivers: list[dict[str, str]], comment: str
                    ) -> tuple[str, str, list[dict[str, str]]]:
    choices = {"a": "approved", "approve": "approved", "c": "changes_requested", "changes": "changes_requested",
               "r": "rejected", "reject": "rejected"}
    while True:
        raw = out.input(escape("Decision? [a]pprove / [c]hanges / [r]eject (approve): ")).strip().lower() or "approve"
        if raw in choices:
            status = choices[raw]
            break
        out.print("[red]  answer approve, changes or reject[/]")
    waivers = list(waivers)
    if status == "approved":
        for rule in failed:
            if any(w["rule_id"] == rule for w in waivers):
                continue
            reason = out.input(f"Policy rule {rule} failed; reason to waive it (empty cancels): ").strip()
            if not reason:
                raise RunStop(EXIT_POLICY, f"policy failed on {rule}; not approved without a waiver")
            waivers.append({"rule_id": rule, "reason": reason, "by": os.environ.get("USER", "cli")})
    if status != "approved":
        comment = out.input("Comment (what should change?): ").strip() or comment
    else:
        comment = out.input("Comment (optional): ").strip() or comment
    return status, comment, waivers


# --------------------------------------------------------------------------- the repository

def write_repository(data: bytes, out_dir: Path) -> int:
    """Unpack the repository zip into `out_dir` (never outside it); returns the number of files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    root = out_dir.resolve()
    n = 0
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            target = (out_dir / info.filename).resolve()
            if info.is_dir() or not target.is_relative_to(root) or target == root:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(info))
            if info.external_attr >> 16 & 0o111:
                target.chmod(0o755)
            n += 1
    return n


def run(client: Client, opts: RunOptions) -> int:
    out = console(opts.json)
    err = err_console()
    view = StageView(out)
    final: dict[str, Any] | None = None
    current: dict[str, str] = {}
    error: dict[str, str] | None = None
    try:
        code, final = drive(client, opts, current, view)
    except RunStop as stop:
        view.stop()
        err.print(f"[bold red]amp:[/] {escape(str(stop))}", soft_wrap=True)
        code = stop.code
    except ApiError as e:
        view.stop()
        err.print(f"[bold red]amp:[/] {e.code}: {escape(e.message)}", soft_wrap=True)
        code, error = ERROR_EXIT.get(e.code, EXIT_ERROR), {"code": e.code, "message": e.message}
    except KeyboardInterrupt:
        view.stop()
        where = f"; it goes on on the server: amp watch {current['ds_id']}" if current.get("ds_id") else ""
        err.print(f"[bold red]amp:[/] interrupted{where}", soft_wrap=True)
        return 130
    finally:
        view.stop()
    try:
        if final is None and current.get("ds_id"):
            final = client.decision_set(current["ds_id"])
        # A repository that did not pass validation is still written: its owner reads the findings in it.
        if final is not None and (final.get("links") or {}).get("artifact") and opts.out:
            n = write_repository(client.artifact(final["id"]), opts.out)
            final["artifact_path"] = str(opts.out.resolve())
            out.print(f"[green]wrote {n} files to {escape(str(opts.out))}[/]")
    except ApiError as e:
        err.print(f"[bold red]amp:[/] {e.code}: {escape(e.message)}", soft_wrap=True)
        code = code or EXIT_ERROR
        error = error or {"code": e.code, "message": e.message}
    if opts.json:
        doc: dict[str, Any] = final if final is not None else {"error": error or {"code": "error", "message": ""}}
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        sys.stdout.flush()
    elif final is not None:
        summary(final, out)
    return code


def summary(ds: dict[str, Any], out: Console) -> None:
    plan = ds.get("plan") or {}
    cost = ds.get("cost") or {}
    policy = ds.get("policy") or {}
    parts = [f"[bold]decision set v{ds.get('version')} {ds.get('status')}[/]"]
    if plan:
        parts.append(f"{len(plan.get('components') or [])} components on {plan.get('cloud')}")
    if cost:
        parts.append(f"${cost.get('monthly_usd', 0) or 0:,.2f}/month")
    if policy:
        parts.append(f"policy {policy.get('overall')}")
    validation = (ds.get("reports") or {}).get("validation") or {}
    if validation:
        parts.append(f"validation {validation.get('overall')}")
    out.print(" — ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0])
    if validation_failed(ds):
        out.print(validation_table(validation))
        out.print("[bold red]The generated repository did not pass validation[/]: read the findings above "
                  "(reports/validation.json in the repository) before using it.", soft_wrap=True)
    for tool in validation.get("tools") or []:
        # Generated code that could not be sandboxed was not run: say so, never a quiet pass.
        if tool.get("status") == "skipped" and (tool.get("reason") or "").startswith("no isolation"):
            out.print(f"[yellow]{escape(tool['tool'])} not run: {escape(tool['reason'])}[/]", soft_wrap=True)
    out.print(f"[dim]id {ds.get('id')} · amp show {ds.get('id')}[/]", soft_wrap=True)
