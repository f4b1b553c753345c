"""Commands that work against a running gateway (`--gateway URL`, or AMP_GATEWAY, default
http://127.0.0.1:8080): projects, show, events, watch, answer, approve, diff, export.

Every command takes `--json` for scripts (machine-readable stdout, human progress on stderr) and
reports an error as one line on stderr (`amp: not_found: decision set … not found`), never a
traceback.

Exit codes:
  0  ok (the decision set completed)        4  waiting for approval
  1  API or other error                     5  policy blocked (a failed rule without a waiver)
  2  usage error                            6  the run failed
  3  intake questions pending               7  rejected at the approval gate
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from amp_contracts import CAPABILITY_LABELS, FIELD_LABELS
from rich.markup import escape
from rich.table import Table

from .client import ApiError, Client
from .output import StageView, console, diff_text, err_console, event_line, show_decision_set
from .run import (
    EXIT_APPROVAL,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_POLICY,
    EXIT_QUESTIONS,
    EXIT_USAGE,
    STATUS_EXIT,
    RunStop,
    ask,
    questions_line,
    write_repository,
)

DEFAULT_GATEWAY = "http://127.0.0.1:8080"

EXIT_CODES = """\
exit codes:
  0  ok                                 4  waiting for approval (amp approve DS)
  1  API or other error                 5  policy blocked (--waive RULE=REASON)
  2  usage error                        6  the run failed
  3  questions pending (amp answer DS)  7  rejected at the approval gate
gateway commands use --gateway URL, or AMP_GATEWAY, default http://127.0.0.1:8080"""

#: API error codes with an exit code of their own; every other API error exits 1.
ERROR_EXIT = {"policy_blocked": EXIT_POLICY}


class UsageError(Exception):
    pass


def gateway_url(args: argparse.Namespace) -> str:
    return getattr(args, "gateway", None) or os.environ.get("AMP_GATEWAY") or DEFAULT_GATEWAY


def fail(message: str) -> None:
    err_console().print(f"[bold red]amp:[/] {escape(message)}", soft_wrap=True)


def api_command(fn: Callable[[Client, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Give a command its client and turn every failure into one line and an exit code."""

    def wrapper(args: argparse.Namespace) -> int:
        client = Client(gateway_url(args), timeout=getattr(args, "http_timeout", 30.0),
                        on_retry=lambda message: err_console().print(f"[dim]{escape(message)}[/]", soft_wrap=True))
        try:
            return fn(client, args)
        except ApiError as e:
            fail(f"{e.code}: {e.message}")
            return ERROR_EXIT.get(e.code, EXIT_ERROR)
        except RunStop as stop:
            fail(str(stop))
            return stop.code
        except UsageError as e:
            fail(str(e))
            return EXIT_USAGE
        except KeyboardInterrupt:
            raise
        except Exception as e:  # noqa: BLE001 - the user gets one line, not a traceback
            fail(f"error: {type(e).__name__}: {e}")
            return EXIT_ERROR
        finally:
            client.close()

    wrapper.__name__ = fn.__name__
    return wrapper


def emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()


def _epoch(ts: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(ts)).timestamp()
    except ValueError:
        return None


def interactive(args: argparse.Namespace) -> bool:
    return sys.stdin.isatty() and not getattr(args, "no_input", False)


# --------------------------------------------------------------------------- projects / show / events

def cmd_projects(client: Client, args: argparse.Namespace) -> int:
    projects = client.projects(args.limit)
    if args.json:
        emit({"projects": projects})
        return EXIT_OK
    out = console(False)
    if not projects:
        out.print("no projects yet: amp run \"<requirements>\" --gateway URL")
        return EXIT_OK
    t = Table(title=f"{len(projects)} project(s)", title_justify="left")
    for col in ("id", "name", "versions", "created"):
        t.add_column(col, no_wrap=col == "id")
    for p in projects:
        t.add_row(p["id"], escape(str(p.get("name", ""))), str(p.get("version_count", "")),
                  str(p.get("created_at", ""))[:19].replace("T", " "))
    out.print(t)
    return EXIT_OK


def cmd_show(client: Client, args: argparse.Namespace) -> int:
    ds = client.decision_set(args.ds)
    if args.json:
        emit(ds)
    else:
        show_decision_set(ds, console(False))
    return EXIT_OK


def cmd_events(client: Client, args: argparse.Namespace) -> int:
    events = client.all_events(args.ds, after=args.after)
    if args.json:
        emit({"decision_set_id": args.ds, "events": events})
        return EXIT_OK
    out = console(False)
    for e in events:
        out.print(event_line(e), soft_wrap=True)
    if not events:
        out.print("[dim]no events[/]")
    return EXIT_OK


# --------------------------------------------------------------------------- status

def cmd_status(client: Client, args: argparse.Namespace) -> int:
    """The operator's first look: exit 0 when every service is serving, 1 when the platform is degraded."""
    st = client.get("/status")
    if args.json:
        emit(st)
        return EXIT_OK if st.get("status") == "ok" else EXIT_ERROR
    out = console(False)
    t = Table(title=f"platform {st.get('status')}", title_justify="left")
    for col in ("service", "health", "lag", "unacked", "redelivered", "dead letters"):
        t.add_column(col, justify="left" if col in ("service", "health") else "right")
    for name, svc in (st.get("services") or {}).items():
        cons = svc.get("consumers") or []
        colour = "green" if svc.get("health") == "serving" else "red"
        t.add_row(name, f"[{colour}]{escape(str(svc.get('health')))}[/]",
                  *(str(sum(c.get(k, 0) for c in cons)) for k in ("pending", "ack_pending", "redelivered")),
                  str(svc.get("dead_letters", 0)))
    out.print(t)
    gates = st.get("gates") or {}
    oldest = gates.get("oldest")
    if oldest:
        out.print(f"{gates.get('waiting', 0)} gate(s) waiting; the oldest: {oldest['gate']} gate of "
                  f"{oldest['decision_set_id']}, {_age(oldest.get('waiting_s') or 0)}"
                  + (f"; {gates['reminded']} past their reminder" if gates.get("reminded") else ""))
    else:
        out.print("no gate waiting")
    return EXIT_OK if st.get("status") == "ok" else EXIT_ERROR


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"waiting {seconds / size:.1f} {unit}"
    return f"waiting {seconds:.0f} s"


# --------------------------------------------------------------------------- watch

def cmd_watch(client: Client, args: argparse.Namespace) -> int:
    return watch(client, args.ds, json_mode=args.json, exit_at_gate=args.exit_at_gate)


def watch(client: Client, ds_id: str, json_mode: bool = False, exit_at_gate: bool = False,
          after: int | None = None) -> int:
    """Follow a decision set's stream to run-complete (and its successor on superseded)."""
    ds = client.decision_set(ds_id)
    out = console(json_mode)
    view = StageView(out, started=_epoch(ds.get("created_at")))
    out.print(f"[dim]decision set {ds_id} (v{ds.get('version')}, {ds.get('status')})[/]")
    last = after
    try:
        view.start()
        while True:
            status = None
            for ev, data, eid in client.follow(ds_id, last):
                last = eid if eid is not None else last
                if json_mode:
                    sys.stdout.write(json.dumps({"id": eid, "event": ev, "data": data}, default=str) + "\n")
                    sys.stdout.flush()
                view.handle(ev, data)
                if ev == "gate-waiting" and data.get("ts") and not _still_waiting(client, ds_id, data):
                    continue  # a gate from the history, already answered
                if ev == "gate-waiting" and data.get("gate") == "intake":
                    view.print(f"[yellow]{'':>16} answer with: amp answer {ds_id}[/] "
                               f"[dim]({escape(questions_line(data.get('questions') or []))})[/]")
                    if exit_at_gate:
                        return EXIT_QUESTIONS
                elif ev == "gate-waiting":
                    view.print(f"[yellow]{'':>16} decide with: amp approve {ds_id} [--reject|--changes][/]")
                    if exit_at_gate:
                        return EXIT_APPROVAL
                elif ev == "run-complete":
                    status = data
            if status and status.get("status") == "superseded" and status.get("next_decision_set_id"):
                ds_id, last = status["next_decision_set_id"], None
                view.print(f"[dim]superseded by decision set {ds_id}[/]")
                view.reset(time.time())
                continue
            view.stop()
            final = client.decision_set(ds_id)
            return STATUS_EXIT.get(final["status"], EXIT_ERROR if final["status"] != "completed" else EXIT_OK)
    finally:
        view.stop()


def _still_waiting(client: Client, ds_id: str, gate: dict[str, Any]) -> bool:
    """Whether a replayed gate-waiting event is the gate open now (not one already decided)."""
    try:
        ds = client.decision_set(ds_id)
    except ApiError:
        return True
    want = "waiting_intake" if gate.get("gate") == "intake" else "waiting_approval"
    if ds.get("status") not in (want, "expiring"):
        return False
    open_gate = ds.get("gate") or {}
    return not gate.get("interrupt_id") or open_gate.get("interrupt_id") in (None, gate.get("interrupt_id"))


# --------------------------------------------------------------------------- answer / approve

def parse_sets(items: list[str] | None) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set takes field=value, got {item!r}")
        value = value.strip()
        if value.startswith("["):
            try:
                answers[key.strip()] = json.loads(value)
                continue
            except ValueError:
                pass
        answers[key.strip()] = value
    return answers


def cmd_answer(client: Client, args: argparse.Namespace) -> int:
    answers = parse_sets(args.set)
    text = args.text or ""
    ds = client.decision_set(args.ds)
    gate = ds.get("gate") or {}
    questions = gate.get("questions") or []
    if ds.get("status") != "waiting_intake":
        raise ApiError(409, "gate_closed", f"decision set {args.ds} is not waiting for answers "
                                           f"(status {ds.get('status')})")
    if not answers and not text.strip():
        if not interactive(args):
            raise RunStop(EXIT_QUESTIONS, "give answers with --set field=value or --text TEXT (or run on a "
                                          f"terminal): {questions_line(questions)}")
        out = console(args.json)
        out.print(f"[bold yellow]decision set {args.ds} asks {len(questions)} question(s)[/] "
                  "[dim](Enter takes the default; a number picks a numbered option)[/]")
        for q in questions:
            value = ask(q, out)
            if value is not None:
                answers[q["field"]] = value
        if not answers:
            text = out.input("Anything else to add (free text)? ").strip()
            if not text:
                raise RunStop(EXIT_QUESTIONS, "no answers given")
    result = client.answer(args.ds, answers, text=text, interrupt_id=gate.get("interrupt_id"))
    if args.json and not args.watch:
        emit({**result, "answers": answers, "text": text})
        return EXIT_OK
    err_console().print(f"answers accepted for decision set {args.ds}"
                        + ("" if args.watch else f"; follow with: amp watch {args.ds}"), soft_wrap=True)
    if args.watch:
        return watch(client, args.ds, json_mode=args.json, exit_at_gate=args.exit_at_gate)
    return EXIT_OK


def parse_waivers(items: list[str] | None, by: str) -> list[dict[str, str]]:
    out = []
    for w in items or []:
        rule, sep, reason = w.partition("=")
        if not sep or not rule.strip() or not reason.strip():
            raise UsageError(f"--waive takes RULE=REASON, got {w!r}")
        out.append({"rule_id": rule.strip(), "reason": reason.strip(), "by": by})
    return out


def cmd_approve(client: Client, args: argparse.Namespace) -> int:
    status = "rejected" if args.reject else "changes_requested" if args.changes else "approved"
    by = args.by or os.environ.get("USER") or "cli"
    waivers = parse_waivers(args.waive, by)
    if status == "changes_requested" and not (args.comment or "").strip():
        raise UsageError("--changes needs --comment saying what should change")
    body = {"status": status, "comment": args.comment or "", "by": by, "waivers": waivers}
    result = client.post(f"/decision-sets/{args.ds}/approve", body)
    if args.json and not args.watch:
        emit(result)
        return EXIT_OK
    err_console().print(f"decision set {args.ds}: {status}"
                        + ("" if args.watch else f"; follow with: amp watch {args.ds}"), soft_wrap=True)
    if args.watch:
        return watch(client, args.ds, json_mode=args.json)
    return EXIT_OK


def cmd_budget(client: Client, args: argparse.Namespace) -> int:
    """Show a project's LLM usage and budget, or set the budget with --set."""
    if args.set is not None or args.remove:
        result = client.http.put(f"/projects/{args.project}/llm-budget",
                                 json={"limit_usd": None if args.remove else args.set})
        usage = client._check(result)
    else:
        usage = client.get(f"/projects/{args.project}/llm-usage")
    if args.json:
        emit(usage)
    else:
        b = usage["budget"]
        err_console().print(f"budget: {b.get('message') or b.get('level')}", soft_wrap=True)
        for n in usage["by_node"]:
            console(False).print(f"{n['node']:>28} {n['provider']}:{n['model']} {n['calls']} calls, "
                                 f"{n['input_tokens']} in / {n['output_tokens']} out / {n['cache_read_tokens']} "
                                 f"cache reads, ${n['usd'] or 0:.4f}", soft_wrap=True)
    return EXIT_OK


def cmd_resume(client: Client, args: argparse.Namespace) -> int:
    """Continue a run paused by its project's LLM budget (raise the budget first), or stopped after errors."""
    result = client.post(f"/decision-sets/{args.ds}/resume", {})
    if args.json and not args.watch:
        emit(result)
        return EXIT_OK
    err_console().print(f"decision set {args.ds}: resuming", soft_wrap=True)
    return watch(client, args.ds, json_mode=args.json) if args.watch else EXIT_OK


# --------------------------------------------------------------------------- dead letters

def cmd_dlq(client: Client, args: argparse.Namespace) -> int:
    """`amp dlq list | show ID | replay ID`: the messages no step could take, and sending one again."""
    if args.action == "list":
        rows = client.get("/dead-letters", limit=args.limit, all="true" if args.all else None)["dead_letters"]
        if args.json:
            emit({"dead_letters": rows})
            return EXIT_OK
        out = console(False)
        if not rows:
            out.print("no dead letters")
            return EXIT_OK
        t = Table(title=f"{len(rows)} dead letter(s)", title_justify="left")
        for col in ("id", "service", "node", "code", "decision set", "when", "reason"):
            t.add_column(col, no_wrap=col in ("id", "decision set"))
        for r in rows:
            t.add_row(str(r["id"]), r["service"], r["node"], r["code"], str(r.get("decision_set_id") or ""),
                      str(r["created_at"])[:19].replace("T", " "), escape(r["reason"][:120]))
        out.print(t)
        return EXIT_OK
    if args.id is None:
        raise RunStop(EXIT_USAGE, f"amp dlq {args.action} needs a dead letter ID")
    if args.action == "show":
        letter = client.get(f"/dead-letters/{args.id}")
        if args.json:
            emit(letter)
        else:
            console(False).print_json(json.dumps(letter, default=str))
        return EXIT_OK
    result = client.post(f"/dead-letters/{args.id}/replay", {}, idempotency_key=f"dlq-replay-{args.id}-{time.time_ns()}")
    if args.json:
        emit(result)
    else:
        err_console().print(f"dead letter {args.id}: sent again on {result['subject']} (replay {result['replays']})",
                            soft_wrap=True)
    return EXIT_OK


# --------------------------------------------------------------------------- diff / export

def cmd_diff(client: Client, args: argparse.Namespace) -> int:
    if args.json:
        emit(client.diff(args.ds, args.against, as_json=True))
        return EXIT_OK
    summary = (client.diff(args.ds, args.against, as_json=True) or {}).get("summary") or {}
    out = console(False)
    for title, changes in (("constraints", summary.get("constraint_changes")), ("components", summary.get("component_changes"))):
        for c in changes or []:
            out.print(f"[bold]{title:>12}[/] {escape(label_of(c['key']))}: {escape(value_of(c.get('before')))} → "
                      f"{escape(value_of(c.get('after')))}")
    text = client.diff(args.ds, args.against)
    diff_text(text, out)
    return EXIT_OK


def label_of(key: str) -> str:
    return FIELD_LABELS.get(key) or CAPABILITY_LABELS.get(key) or key


def value_of(value: Any) -> str:
    if value is None or value == []:
        return "none"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def cmd_export(client: Client, args: argparse.Namespace) -> int:
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} exists and is not a directory")
    data = client.artifact(args.ds)
    n = write_repository(data, out_dir)
    files = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file())
    if args.json:
        emit({"decision_set_id": args.ds, "out": str(out_dir.resolve()), "files_written": n, "files": files})
    else:
        err_console().print(f"[green]wrote {n} files to {escape(str(out_dir))}[/]", soft_wrap=True)
    return EXIT_OK


# --------------------------------------------------------------------------- the parser

def gateway_options() -> argparse.ArgumentParser:
    """The options every gateway command shares: --gateway and --json."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--gateway", metavar="URL", help=f"the gateway (default AMP_GATEWAY or {DEFAULT_GATEWAY})")
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    return common


def register(sub: argparse._SubParsersAction) -> None:
    """Add the gateway commands to the `amp` parser."""
    common = gateway_options()

    def add(name: str, fn: Callable[[Client, argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        # argparse %-formats a subcommand's help line (`%(default)s`…); a literal "%" must be doubled there
        s = sub.add_parser(name, parents=[common], help=help_.replace("%", "%%"), description=help_, epilog=EXIT_CODES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        s.set_defaults(fn=api_command(fn))
        return s

    s = add("projects", cmd_projects, "list projects")
    s.add_argument("--limit", type=int, default=100)

    s = add("show", cmd_show, "show a decision set: status, constraints, plan, cost, policy, approval")
    s.add_argument("ds", metavar="DS", help="decision set id")

    s = add("events", cmd_events, "the stored event timeline of a decision set")
    s.add_argument("ds", metavar="DS")
    s.add_argument("--after", type=int, default=0, metavar="ID", help="only events after this event id")

    s = add("watch", cmd_watch, "follow a decision set live to the end of its run (JSON lines with --json)")
    s.add_argument("ds", metavar="DS")
    s.add_argument("--exit-at-gate", action="store_true", help="stop at an open gate with exit 3 or 4")

    s = add("answer", cmd_answer, "answer the intake questions of a decision set")
    s.add_argument("ds", metavar="DS")
    s.add_argument("--set", action="append", metavar="FIELD=VALUE", help="a typed answer (repeatable)")
    s.add_argument("--text", help="a free-text answer, read like the requirements")
    s.add_argument("--no-input", action="store_true", help="never prompt, even on a terminal")
    s.add_argument("--watch", action="store_true", help="follow the run afterwards")
    s.add_argument("--exit-at-gate", action="store_true", help="with --watch: stop at the next gate")

    s = add("approve", cmd_approve, "decide the approval gate of a decision set (approve by default)")
    s.add_argument("ds", metavar="DS")
    s.add_argument("--comment", help="recorded with the decision (required with --changes)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--reject", action="store_true", help="reject the plan")
    g.add_argument("--changes", action="store_true", help="request changes (re-plans as a new version)")
    s.add_argument("--waive", action="append", metavar="RULE=REASON", help="waive a failed policy rule")
    s.add_argument("--by", help="who decides (default $USER)")
    s.add_argument("--watch", action="store_true", help="follow the run afterwards")

    s = add("budget", cmd_budget, "a project's LLM usage and budget (warning at 80 %, pause at 100 %)")
    s.add_argument("project", metavar="PROJECT")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--set", type=float, metavar="USD", help="set the budget")
    g.add_argument("--remove", action="store_true", help="remove the budget")

    s = add("resume", cmd_resume, "continue a run paused by its project's LLM budget, or stopped after errors")
    s.add_argument("ds", metavar="DS")
    s.add_argument("--watch", action="store_true", help="follow the run afterwards")

    s = add("dlq", cmd_dlq, "dead letters: list them, show one (reason and message), replay one")
    s.add_argument("action", choices=("list", "show", "replay"))
    s.add_argument("id", nargs="?", type=int, metavar="ID")
    s.add_argument("--limit", type=int, default=100)
    s.add_argument("--all", action="store_true", help="list replayed ones too")

    s = add("diff", cmd_diff, "unified diff of a decision set's repository against its parent (or --against)")
    s.add_argument("ds", metavar="DS")
    s.add_argument("--against", metavar="DS", help="another decision set of the same project")

    add("status", cmd_status, "health of each service, consumer lag, dead letters and the oldest waiting gate")

    s = add("export", cmd_export, "write a decision set's generated repository to a directory")
    s.add_argument("ds", metavar="DS")
    s.add_argument("--out", required=True, metavar="DIR")

    _document_exit_codes(sub)


def _document_exit_codes(sub: argparse._SubParsersAction) -> None:
    """Put the exit codes in `amp run --help` too (the top-level parser is not reachable from here)."""
    run_parser = sub.choices.get("run")
    if run_parser is not None and not run_parser.epilog:
        run_parser.epilog = EXIT_CODES
        run_parser.formatter_class = argparse.RawDescriptionHelpFormatter
