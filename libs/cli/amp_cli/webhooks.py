"""`amp webhooks …`: a project's webhook subscriptions and their delivery log, against a running gateway.

    amp webhooks events                                  the event types
    amp webhooks list PROJECT
    amp webhooks add PROJECT URL [--event TYPE]… [--description TEXT] [--disabled]
    amp webhooks show|enable|disable|delete PROJECT WEBHOOK
    amp webhooks update PROJECT WEBHOOK [--url URL] [--event TYPE]… [--description TEXT]
    amp webhooks rotate PROJECT WEBHOOK [--overlap SECONDS]
    amp webhooks deliveries PROJECT WEBHOOK [--state STATE] [--limit N]
    amp webhooks redeliver PROJECT WEBHOOK DELIVERY

The signing secret is printed once, by `add` and `rotate`; store it where the receiver reads it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from amp_contracts import WEBHOOK_EVENTS
from rich.markup import escape
from rich.table import Table

from .client import Client
from .commands import EXIT_CODES, api_command, console, emit, err_console
from .run import EXIT_OK


def _path(args: argparse.Namespace, *rest: str) -> str:
    return "/".join([f"/projects/{args.project}/webhooks", *rest])


def _events(args: argparse.Namespace) -> list[str] | None:
    return list(dict.fromkeys(args.event)) if args.event else None


def _show(hook: dict[str, Any], args: argparse.Namespace) -> int:
    if args.json:
        emit(hook)
        return EXIT_OK
    out = console(False)
    state = "[green]enabled[/]" if hook["enabled"] else f"[red]disabled[/] ({escape(hook.get('disabled_reason') or '')})"
    out.print(f"[bold]{hook['id']}[/] {escape(hook['url'])} {state}", soft_wrap=True)
    out.print(f"  events: {', '.join(hook['events'])}", soft_wrap=True)
    if hook.get("description"):
        out.print(f"  {escape(hook['description'])}", soft_wrap=True)
    counts = hook.get("deliveries") or {}
    if counts:
        out.print("  deliveries: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if hook.get("secret"):
        err_console().print("[bold yellow]signing secret (shown once; the receiver verifies with it):[/]")
        out.print(hook["secret"])
    return EXIT_OK


def cmd_events(client: Client, args: argparse.Namespace) -> int:
    types = client.get("/webhooks/event-types")["event_types"]
    if args.json:
        emit({"event_types": types})
    else:
        for t in types:
            console(False).print(f"{t['type']:>16}  {escape(t['description'])}", soft_wrap=True)
    return EXIT_OK


def cmd_list(client: Client, args: argparse.Namespace) -> int:
    hooks = client.get(_path(args))["webhooks"]
    if args.json:
        emit({"project_id": args.project, "webhooks": hooks})
        return EXIT_OK
    if not hooks:
        console(False).print(f"no webhooks yet: amp webhooks add {args.project} https://…")
        return EXIT_OK
    t = Table(title=f"{len(hooks)} webhook(s)", title_justify="left")
    for col in ("id", "url", "events", "state", "deliveries"):
        t.add_column(col, no_wrap=col == "id")
    for h in hooks:
        counts = ", ".join(f"{k} {v}" for k, v in sorted((h.get("deliveries") or {}).items()))
        t.add_row(h["id"], escape(h["url"]), ", ".join(h["events"]),
                  "enabled" if h["enabled"] else f"disabled: {escape(h.get('disabled_reason') or '')}", counts)
    console(False).print(t)
    return EXIT_OK


def cmd_add(client: Client, args: argparse.Namespace) -> int:
    body = {"url": args.url, "events": _events(args) or list(WEBHOOK_EVENTS), "description": args.description or "",
            "enabled": not args.disabled}
    return _show(client.post(_path(args), body), args)


def cmd_get(client: Client, args: argparse.Namespace) -> int:
    return _show(client.get(_path(args, args.webhook)), args)


def _patch(client: Client, args: argparse.Namespace, body: dict[str, Any]) -> int:
    return _show(client._send("PATCH", _path(args, args.webhook), json=body), args)


def cmd_enable(client: Client, args: argparse.Namespace) -> int:
    return _patch(client, args, {"enabled": True})


def cmd_disable(client: Client, args: argparse.Namespace) -> int:
    return _patch(client, args, {"enabled": False})


def cmd_update(client: Client, args: argparse.Namespace) -> int:
    body = {k: v for k, v in (("url", args.url), ("events", _events(args)), ("description", args.description))
            if v is not None}
    return _patch(client, args, body)


def cmd_rotate(client: Client, args: argparse.Namespace) -> int:
    return _show(client.post(_path(args, args.webhook, "rotate-secret"), {"overlap_s": args.overlap}), args)


def cmd_delete(client: Client, args: argparse.Namespace) -> int:
    client._send("DELETE", _path(args, args.webhook))
    if args.json:
        emit({"deleted": args.webhook})
    else:
        err_console().print(f"webhook {args.webhook} deleted")
    return EXIT_OK


def cmd_deliveries(client: Client, args: argparse.Namespace) -> int:
    rows = client.get(_path(args, args.webhook, "deliveries"), state=args.state, limit=args.limit)["deliveries"]
    if args.json:
        emit({"webhook_id": args.webhook, "deliveries": rows})
        return EXIT_OK
    if not rows:
        console(False).print("no deliveries yet")
        return EXIT_OK
    t = Table(title=f"{len(rows)} deliveries (newest first)", title_justify="left")
    for col in ("id", "event", "state", "attempts", "codes", "latency", "next retry"):
        t.add_column(col, no_wrap=col in ("id", "event"))
    for d in rows:
        log = d.get("attempt_log") or []
        codes = " ".join(str(a.get("status_code") or "—") for a in log)
        latency = f"{log[-1]['latency_ms']:.0f} ms" if log and log[-1].get("latency_ms") is not None else ""
        nxt = str(d.get("next_attempt_at") or "")[:19].replace("T", " ") if d["state"] == "pending" else ""
        t.add_row(d["id"], d["event_type"], d["state"], str(d["attempts"]), codes, latency, nxt)
    console(False).print(t)
    return EXIT_OK


def cmd_redeliver(client: Client, args: argparse.Namespace) -> int:
    result = client.post(_path(args, args.webhook, "deliveries", args.delivery, "redeliver"), {})
    if args.json:
        emit(result)
    else:
        err_console().print(f"delivery {args.delivery}: sending again now")
    return EXIT_OK


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """`amp webhooks VERB …` under the `amp` parser (`common` carries --gateway and --json)."""
    top = sub.add_parser("webhooks", help="a project's webhooks: subscriptions, secrets, the delivery log",
                         description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = top.add_subparsers(dest="verb", required=True, metavar="VERB")

    def add(name: str, fn: Callable[[Client, argparse.Namespace], int], help_: str,
            webhook: bool = True) -> argparse.ArgumentParser:
        s = verbs.add_parser(name, parents=[common], help=help_, description=help_, epilog=EXIT_CODES,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        if name != "events":
            s.add_argument("project", metavar="PROJECT")
        if webhook:
            s.add_argument("webhook", metavar="WEBHOOK", help="webhook (subscription) id")
        s.set_defaults(fn=api_command(fn))
        return s

    add("events", cmd_events, "the event types a webhook can subscribe to", webhook=False)
    add("list", cmd_list, "a project's webhooks with their deliveries counted by state", webhook=False)
    s = add("add", cmd_add, "subscribe a URL to a project's events (prints the signing secret once)", webhook=False)
    s.add_argument("url", metavar="URL")
    s.add_argument("--event", action="append", choices=list(WEBHOOK_EVENTS), metavar="TYPE",
                   help="an event type (repeatable; default: all of them)")
    s.add_argument("--description")
    s.add_argument("--disabled", action="store_true", help="create it disabled")
    add("show", cmd_get, "one webhook")
    add("enable", cmd_enable, "resume deliveries (also after a receiver's 410)")
    add("disable", cmd_disable, "pause deliveries")
    s = add("update", cmd_update, "change a webhook's URL, events or description")
    s.add_argument("--url")
    s.add_argument("--event", action="append", choices=list(WEBHOOK_EVENTS), metavar="TYPE")
    s.add_argument("--description")
    s = add("rotate", cmd_rotate, "a new signing secret (printed once); the old one keeps signing for --overlap")
    s.add_argument("--overlap", type=float, default=86_400, metavar="SECONDS", help="default 86400 (a day)")
    add("delete", cmd_delete, "delete a webhook and its delivery log")
    s = add("deliveries", cmd_deliveries, "the delivery log: attempts, status codes, latency, next retry")
    s.add_argument("--state", choices=["pending", "sending", "delivered", "failed"])
    s.add_argument("--limit", type=int, default=50)
    s = add("redeliver", cmd_redeliver, "send a delivery again now (same webhook-id)")
    s.add_argument("delivery", metavar="DELIVERY")
