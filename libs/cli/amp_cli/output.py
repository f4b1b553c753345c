"""How the CLI shows a run: one line per stage and Reason Card, tables for cost and policy."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

STAGE_NAMES = {
    "intake_extract": "intake", "coverage_check": "coverage", "adaptive_questions": "questions",
    "apply_answers": "answers", "planner": "planner", "critic_tech": "critic: tech", "critic_cost": "critic: cost",
    "policy_eval": "policy", "gate_hitl": "approval gate", "process_approval_feedback": "approval feedback",
    "codegen": "codegen", "validators": "validators", "rationale_compile": "rationale",
    "diff_and_persist": "diff & persist",
}


def describe(ev: str, data: dict[str, Any]) -> str | None:
    node = STAGE_NAMES.get(data.get("node_name", ""), data.get("node_name", ""))
    if ev == "reason-card":
        return f"[bold cyan]{node:>18}[/] {_escape(data.get('summary', ''))}"
    if ev == "cost-update":
        return f"[bold cyan]{'cost':>18}[/] ${data.get('monthly_usd', 0):,.2f}/month"
    if ev == "policy-update":
        return f"[bold cyan]{'policy':>18}[/] overall [bold]{data.get('overall')}[/]"
    if ev == "gate-waiting":
        return f"[bold yellow]{'waiting':>18}[/] {data.get('gate')} gate"
    if ev == "diff-update":
        return (f"[bold cyan]{'change summary':>18}[/] +{data.get('files_added', 0)} "
                f"-{data.get('files_removed', 0)} ~{data.get('files_modified', 0)} files")
    if ev == "run-error":
        return f"[bold red]{'error':>18}[/] {_escape(data.get('message', ''))}"
    if ev == "run-complete":
        return f"[bold green]{'done':>18}[/] version {data.get('version')} {data.get('status')}"
    if ev in ("gate-stale", "gate-reminder"):
        return f"[bold yellow]{ev:>18}[/]"
    return None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def cost_table(cost: dict[str, Any]) -> Table:
    t = Table(title=f"Monthly cost ${cost.get('monthly_usd', 0):,.2f}", show_lines=False)
    for col in ("service", "qty", "usd"):
        t.add_column(col, justify="right" if col == "usd" else "left")
    for item in sorted(cost.get("breakdown") or [], key=lambda b: -b.get("usd", 0)):
        t.add_row(str(item.get("service")), str(item.get("qty")), f"{item.get('usd', 0):,.2f}")
    return t


def policy_table(policy: dict[str, Any]) -> Table:
    t = Table(title=f"Policy: {policy.get('overall')}")
    for col in ("rule", "status", "detail"):
        t.add_column(col)
    colours = {"pass": "green", "warn": "yellow", "fail": "red"}
    for r in policy.get("rules") or []:
        st = r.get("status", "")
        t.add_row(r.get("id", ""), f"[{colours.get(st, 'white')}]{st}[/]" + (" (waived)" if r.get("waived") else ""),
                  _escape(r.get("detail", "")))
    return t


def console(json_mode: bool) -> Console:
    """Progress goes to stderr so that `--json` output on stdout stays machine-readable."""
    return Console(stderr=True, quiet=False, highlight=False) if json_mode else Console(highlight=False)
