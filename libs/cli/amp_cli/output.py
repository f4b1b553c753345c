"""How the CLI shows a run: a live stage list with spinners and timings, one line per Reason Card,
tables for cost and policy, and the decision-set views of `amp show`, `amp events` and `amp diff`.

On a terminal the stage list is a `rich.live.Live` display (on stderr when stdout carries JSON);
elsewhere (a pipe, a log file, CI) every change is one plain line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from amp_contracts import NODES, stage_label
from amp_contracts import STAGES as PIPELINE_STAGES
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

#: The stages of one decision set, in the order the agents run them (from the pipeline table).
STAGES: tuple[str, ...] = tuple(s.label for s in PIPELINE_STAGES)

#: Graph node → stage of the list above.
NODE_STAGE: dict[str, str] = {n.name: stage_label(n.name) for n in NODES}

#: Single nodes by their own label (questions, answers, approval feedback…).
STAGE_NAMES = {**NODE_STAGE, **{n.name: n.label.lower() for n in NODES if n.stage in ("coverage", "gate")}}

WIDTH = 16  # the stage-name column of plain lines


def stage_of(node: str | None) -> str:
    return NODE_STAGE.get(node or "", node or "")


def event_time(data: dict[str, Any]) -> float:
    """The event's own timestamp (epoch seconds), so that replays show the run's real timings."""
    ts = data.get("ts")
    if isinstance(ts, str):
        try:
            return datetime.fromisoformat(ts).timestamp()
        except ValueError:
            pass
    return time.time()


def seconds(s: float | None) -> str:
    if s is None:
        return ""
    s = max(0.0, s)
    if s < 60:
        return f"{s:.1f}s"
    m, s = divmod(round(s), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


def describe(ev: str, data: dict[str, Any]) -> str | None:
    """One line of console markup for an event, or None for events shown otherwise."""
    node = STAGE_NAMES.get(data.get("node_name", ""), data.get("node_name", ""))
    if ev == "reason-card":
        return f"[bold cyan]{node:>{WIDTH}}[/] {escape(one_line(data.get('summary', '')))}"
    if ev == "cost-update":
        return f"[bold cyan]{'cost':>{WIDTH}}[/] ${data.get('monthly_usd', 0) or 0:,.2f}/month"
    if ev == "policy-update":
        return f"[bold cyan]{'policy':>{WIDTH}}[/] overall [bold]{data.get('overall')}[/]"
    if ev == "gate-waiting":
        what = "questions" if data.get("gate") == "intake" else "approval"
        return f"[bold yellow]{'waiting':>{WIDTH}}[/] {data.get('gate')} gate ({what})"
    if ev == "diff-update":
        return (f"[bold cyan]{'change summary':>{WIDTH}}[/] +{data.get('files_added', 0)} "
                f"-{data.get('files_removed', 0)} ~{data.get('files_modified', 0)} files")
    if ev == "run-error":
        return (f"[bold red]{'error':>{WIDTH}}[/] {escape(str(data.get('code', 'internal')))}: "
                f"{escape(one_line(data.get('message', '')))}")
    if ev == "run-complete":
        colour = {"completed": "green", "superseded": "yellow"}.get(data.get("status", ""), "red")
        return f"[bold {colour}]{'done':>{WIDTH}}[/] version {data.get('version')} {data.get('status')}"
    if ev in ("gate-stale", "gate-reminder"):
        return f"[bold yellow]{ev:>{WIDTH}}[/] {escape(one_line(data.get('message', '') or ''))}"
    if ev == "status-change":
        return f"[dim]{'status':>{WIDTH}}[/] [dim]{escape(str(data.get('from')))} → {escape(str(data.get('to')))}[/]"
    return None


def one_line(text: Any, limit: int = 240) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _escape(text: str) -> str:
    return escape(text)


def cost_table(cost: dict[str, Any]) -> Table:
    title = f"Monthly cost ${cost.get('monthly_usd', 0) or 0:,.2f}"
    if cost.get("low_usd") is not None and cost.get("high_usd") is not None:
        title += f" (range ${cost['low_usd']:,.0f}–${cost['high_usd']:,.0f})"
    if cost.get("delta_vs_prev_usd") is not None:
        title += f", {cost['delta_vs_prev_usd']:+,.2f} vs previous"
    t = Table(title=title, title_justify="left", show_lines=False)
    for col in ("service", "component", "qty", "usd"):
        t.add_column(col, justify="right" if col == "usd" else "left")
    for item in sorted(cost.get("breakdown") or [], key=lambda b: -(b.get("usd") or 0)):
        t.add_row(escape(str(item.get("service"))), escape(str(item.get("component") or "")),
                  escape(str(item.get("qty"))), f"{item.get('usd', 0) or 0:,.2f}")
    return t


def review_tables(review: dict[str, Any]) -> list[Any]:
    """The gate's review, as the web page's approval box shows it: what changed, the cost lines, the budget."""
    since = f"v{review['against_version']}" if review.get("against_version") else None
    out: list[Any] = []
    why = review.get("changed_by")
    title = f"Constraints (against {since})" if since else "Constraints"
    if since and why:
        title += f": changed by {why['label']}" + (f" — \"{why['comment']}\"" if why.get("comment") else "")
    t = Table(title=escape(title), title_justify="left")
    for col in ("constraint", *(("before",) if since else ()), "now"):
        t.add_column(col)
    for c in review.get("constraints") or []:
        now = f"[bold green]{escape(c['value'])}[/]" if c.get("changed") else escape(c["value"])
        t.add_row(escape(c["label"]), *((f"[red]{escape(c['before'] or '')}[/]" if c.get("changed") else "",) if since else ()),
                  now)
    out.append(t)
    cost = review.get("cost") or {}
    lines = review.get("cost_lines") or []
    if lines:
        title = f"Monthly cost ${cost.get('monthly_usd') or 0:,.2f}"
        if cost.get("low_usd") is not None:
            title += f" (range ${cost['low_usd']:,.0f}–${cost['high_usd']:,.0f})"
        if cost.get("budget_used_pct") is not None:
            title += f", {cost['budget_used_pct']:g}% of the ${cost['budget_usd']:,.0f} budget"
        if cost.get("delta_usd") is not None:
            title += f", {cost['delta_usd']:+,.2f} vs {since or 'previous'}"
        t = Table(title=escape(title), title_justify="left")
        for col in ("line", "quantity", "unit price", "monthly", *(("change",) if since else ())):
            t.add_column(col, justify="left" if col in ("line", "quantity") else "right")
        for line in lines:
            delta = line.get("delta_usd")
            change = "" if not delta else (f"[red]{delta:+,.2f}[/]" if delta > 0 else f"[green]{delta:+,.2f}[/]")
            where = ", ".join(line.get("regions") or [])
            t.add_row(escape(f"{line.get('service')} {where}".strip()), escape(str(line.get("qty") or "–")),
                      f"{line['unit_price_usd']:.3g}" if line.get("unit_price_usd") is not None else "–",
                      f"{line.get('usd') or 0:,.2f}", *((change,) if since else ()))
        out.append(t)
    return out


def policy_table(policy: dict[str, Any]) -> Table:
    t = Table(title=f"Policy: {policy.get('overall')}", title_justify="left")
    for col in ("rule", "status", "detail"):
        t.add_column(col)
    colours = {"pass": "green", "warn": "yellow", "fail": "red"}
    for r in policy.get("rules") or []:
        st = r.get("status", "")
        t.add_row(escape(r.get("id", "")), f"[{colours.get(st, 'white')}]{st}[/]" + (" (waived)" if r.get("waived") else ""),
                  escape(r.get("detail", "")))
    return t


def plan_table(plan: dict[str, Any]) -> Table:
    t = Table(title=f"Plan on {plan.get('cloud')} {', '.join(plan.get('regions') or [])}", title_justify="left")
    for col in ("capability", "pattern", "service", "deployment"):
        t.add_column(col)
    for c in plan.get("components") or []:
        t.add_row(escape(str(c.get("capability", ""))), escape(str(c.get("pattern_id", ""))),
                  escape(str(c.get("service") or c.get("name") or "")), escape(str(c.get("deployment", ""))))
    return t


def console(json_mode: bool) -> Console:
    """Progress goes to stderr so that `--json` output on stdout stays machine-readable."""
    return _sized(Console(stderr=True, highlight=False) if json_mode else Console(highlight=False))


def err_console() -> Console:
    return _sized(Console(stderr=True, highlight=False))


def _sized(c: Console) -> Console:
    """Logs and pipes get wide lines (tables unwrapped) unless COLUMNS says otherwise."""
    if not c.is_terminal and not os.environ.get("COLUMNS"):
        c.width = 160
    return c


# --------------------------------------------------------------------------- the live stage list

@dataclass
class Stage:
    name: str
    state: str = "pending"  # pending | running | waiting | done | failed | skipped | rejected
    start: float | None = None
    end: float | None = None
    note: str = ""


ICONS = {"pending": "[dim]·[/]", "done": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[dim]–[/]",
         "rejected": "[red]✗[/]", "waiting": "[yellow]?[/]"}


class StageView:
    """The stage list of one run: fed with SSE events, shown live on a terminal, as lines elsewhere."""

    def __init__(self, out: Console, live: bool | None = None, started: float | None = None) -> None:
        self.out = out
        self.live_enabled = (out.is_terminal and not out.is_dumb_terminal) if live is None else live
        self.started = started
        self.stages: dict[str, Stage] = {}
        self._live: Any = None
        self.reset(started)

    # lifecycle
    def reset(self, started: float | None = None) -> None:
        self.stages = {name: Stage(name) for name in STAGES}
        self.started = started
        self.title = ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self.live_enabled and self._live is None:
            self._live = Live(self, console=self.out, refresh_per_second=8, transient=True)
            self._live.start()

    def stop(self, final: bool = True) -> None:
        """End the live display; the final stage list stays on screen unless only pausing."""
        if self._live is not None:
            self._live.stop()
            self._live = None
            if final:
                self.out.print(self)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the live display around prompts, so that typing is not redrawn over."""
        was = self._live is not None
        self.stop(final=False)
        try:
            yield
        finally:
            if was:
                self.start()

    def print(self, *objects: Any, **kw: Any) -> None:
        self.out.print(*objects, soft_wrap=not self.out.is_terminal, **kw)

    # events
    def _mark_before(self, name: str, now: float) -> None:
        """Stages before `name` that were still running are finished by the time `name` reports."""
        for st in self.stages.values():
            if st.name == name:
                return
            if st.state == "running":
                st.state, st.end = "done", now

    def _last_end(self, name: str) -> float | None:
        ends = [st.end for st in self.stages.values() if st.name != name and st.end is not None]
        return max(ends) if ends else self.started

    def _begin_next(self, name: str, now: float) -> None:
        order = list(self.stages)
        for later in order[order.index(name) + 1:]:
            st = self.stages[later]
            if st.state == "pending":
                st.state, st.start = "running", now
                return
            if st.state in ("running", "waiting"):
                return

    def handle(self, ev: str, data: dict[str, Any]) -> None:
        """Update the stages for one event and print its line (Reason Cards, errors, completion)."""
        now = event_time(data)
        if self.started is None:
            self.started = now
        name = stage_of(data.get("node_name"))
        st = self.stages.get(name)
        if ev == "reason-card" and st is not None:
            self._mark_before(name, now)
            if st.start is None:
                st.start = self._last_end(name) or now
            if st.state != "done" or not st.note:  # the first card of a stage is its headline
                st.note = one_line(data.get("summary", ""), 120)
            st.state, st.end = "done", now
            self._begin_next(name, now)
            self.print(f"[bold cyan]{name:>{WIDTH}}[/] [dim]{seconds(st.end - st.start if st.start else None):>6}[/] "
                       f"{escape(one_line(data.get('summary', '')))}")
            return
        if ev == "gate-waiting":
            st = self.stages["coverage" if data.get("gate") == "intake" else "approval gate"]
            self._mark_before(st.name, now)
            st.state, st.start, st.end = "waiting", now, None
            order = list(self.stages)
            for later in order[order.index(st.name) + 1:]:  # nothing runs past an open gate
                if self.stages[later].state == "running":
                    self.stages[later].state, self.stages[later].start = "pending", None
            st.note = ("questions: " + ", ".join(q.get("field", "") for q in data.get("questions") or [])
                       if data.get("gate") == "intake" else "waiting for approval")
        elif ev == "run-error":
            target = st or next((s for s in self.stages.values() if s.state in ("running", "waiting")), None)
            if target is not None:
                target.state, target.end = "failed", now
                target.note = one_line(data.get("message", ""), 120)
        elif ev == "run-complete":
            status = data.get("status")
            for s in self.stages.values():
                if status == "completed":
                    if s.state in ("running", "waiting"):
                        s.state, s.end = "done", now
                    elif s.state == "pending":
                        s.state = "skipped"
                elif s.state in ("running", "waiting"):
                    s.state, s.end = ("rejected" if status == "rejected" else
                                      "done" if status == "superseded" else "failed"), now
                    if status == "superseded":
                        s.note = "changes requested: re-planning"
            if status == "completed" and self.started is not None:
                self.title = f"completed in {seconds(now - self.started)}"
        elif ev in ("cost-update", "policy-update", "diff-update") and st is not None and st.state == "pending":
            self._mark_before(name, now)
            st.state, st.start = "running", st.start or self._last_end(name) or now
        line = describe(ev, data)
        if line and ev not in ("cost-update", "policy-update"):
            self.print(line)

    # rendering
    def __rich__(self) -> Table:
        t = Table.grid(padding=(0, 1))
        t.add_column(width=2)
        t.add_column(min_width=14)
        t.add_column(justify="right", min_width=7)
        t.add_column(overflow="ellipsis", no_wrap=True)
        now = time.time()
        for st in self.stages.values():
            if st.state == "running":
                icon: Any = Spinner("dots", style="cyan")
                took = seconds(now - st.start) if st.start else ""
            elif st.state == "waiting":
                icon, took = Text.from_markup(ICONS["waiting"]), seconds(now - st.start) if st.start else ""
            else:
                icon = Text.from_markup(ICONS.get(st.state, " "))
                took = seconds(st.end - st.start) if st.start is not None and st.end is not None else ""
            style = {"pending": "dim", "skipped": "dim", "failed": "red", "rejected": "red",
                     "waiting": "yellow"}.get(st.state, "")
            t.add_row(icon, Text(st.name, style=style or "bold"), Text(took, style="dim"),
                      Text(st.note, style="dim"))
        if self.title:
            return Group(t, Text(self.title, style="bold green"))  # type: ignore[return-value]
        return t

    def snapshot(self) -> list[dict[str, Any]]:
        return [{"stage": s.name, "state": s.state, "seconds": (s.end - s.start) if s.start and s.end else None}
                for s in self.stages.values()]


# --------------------------------------------------------------------------- decision-set views

def show_decision_set(ds: dict[str, Any], out: Console) -> None:
    """The human face of `amp show`: status, constraints, plan, cost, policy, approval, diff."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    colour = {"completed": "green", "failed": "red", "rejected": "red"}.get(ds.get("status", ""), "yellow")
    rows = [("decision set", ds.get("id")), ("project", ds.get("project_id")), ("version", ds.get("version")),
            ("status", f"[{colour}]{ds.get('status')}[/] (stage {ds.get('stage')})"),
            ("parent", ds.get("parent_id") or "—"), ("created", ds.get("created_at")),
            ("git commit", ds.get("git_commit") or "—"), ("trace id", ds.get("trace_id") or "—")]
    for k, v in rows:
        head.add_row(k, v if isinstance(v, str) and k == "status" else escape(str(v)))
    out.print(head)
    if ds.get("requirements"):
        out.print(f"\n[bold]requirements[/]\n  {escape(one_line(ds['requirements'], 1000))}")
    constraints = {k: v for k, v in (ds.get("constraints") or {}).items() if v not in (None, [], "", {})}
    if constraints:
        t = Table(title="Constraints", title_justify="left")
        t.add_column("field")
        t.add_column("value")
        for k, v in constraints.items():
            t.add_row(escape(k), escape(", ".join(map(str, v)) if isinstance(v, list) else str(v)))
        out.print(t)
    gate = ds.get("gate") or {}
    if ds.get("status") == "waiting_intake" and gate.get("questions"):
        out.print("[bold yellow]open questions[/] (answer with `amp answer " + str(ds.get("id")) + "`)")
        for q in gate["questions"]:
            opts = f" [{'/'.join(map(str, q.get('options') or []))}]" if q.get("options") else ""
            out.print(f"  {escape(q['field'])}: {escape(q['prompt'])}{escape(opts)}")
    if ds.get("plan"):
        out.print(plan_table(ds["plan"]))
    if ds.get("cost"):
        out.print(cost_table(ds["cost"]))
    if ds.get("policy"):
        out.print(policy_table(ds["policy"]))
    if ds.get("approval"):
        a = ds["approval"]
        out.print(f"[bold]approval[/] {escape(str(a.get('status')))} by {escape(str(a.get('by') or a.get('decided_by')))}"
                  + (f": {escape(one_line(a.get('comment')))}" if a.get("comment") else ""))
    validation = (ds.get("reports") or {}).get("validation") or {}
    if validation.get("tools"):
        out.print(validation_table(validation))
    if ds.get("diff"):
        d = ds["diff"]
        out.print(f"[bold]changes[/] +{d.get('files_added', 0)} -{d.get('files_removed', 0)} "
                  f"~{d.get('files_modified', 0)} files")
    if ds.get("status") == "waiting_approval":
        out.print(f"[bold yellow]waiting for approval:[/] amp approve {ds.get('id')}")


def validation_failed(ds: dict[str, Any]) -> bool:
    """True when the generated repository's validation did not pass (a tool failed or errored)."""
    validation = (ds.get("reports") or {}).get("validation") or {}
    return bool(validation) and validation.get("overall") != "pass"


def validation_table(validation: dict[str, Any], findings_per_tool: int = 3) -> Table:
    """Each validator with its result, why it was skipped or errored, and its first findings."""
    overall = validation.get("overall", "")
    colour = {"pass": "green", "fail": "red", "error": "red"}.get(overall, "yellow")
    t = Table(title=f"Validation: [{colour}]{escape(str(overall))}[/]", title_justify="left")
    t.add_column("tool")
    t.add_column("result")
    t.add_column("detail", overflow="fold")
    for tool in validation.get("tools") or []:
        status = str(tool.get("status", ""))
        style = {"pass": "green", "fail": "red", "error": "red", "skipped": "yellow"}.get(status, "")
        findings = tool.get("findings") or []
        lines = [escape(str(tool.get("reason")))] if tool.get("reason") else []
        for f in findings[:findings_per_tool]:
            where = f"{f.get('path')}:{f.get('line') or 1} " if f.get("path") else ""
            lines.append(escape(f"{where}{f.get('rule', '')}: {one_line(str(f.get('message', '')), 160)}"))
        if len(findings) > findings_per_tool:
            lines.append(f"[dim]… {len(findings) - findings_per_tool} more finding(s) in reports/validation.json[/]")
        t.add_row(escape(str(tool.get("tool", ""))), f"[{style}]{escape(status)}[/]" if style else escape(status),
                  "\n".join(lines))
    return t


def event_line(e: dict[str, Any]) -> str:
    """One line of markup for a stored event (`amp events`)."""
    data = {**(e.get("data") or {}), "node_name": e.get("node_name")}
    line = describe(e.get("type", ""), data)
    if line is None:
        line = f"[dim]{e.get('type', ''):>{WIDTH}}[/] {escape(str(e.get('node_name', '')))}"
    ts = str(e.get("ts", ""))[11:19]
    return f"[dim]{e.get('id', ''):>6} {ts}[/] {line}"


def diff_text(text: str, out: Console) -> None:
    """A unified diff, coloured on a terminal, byte-for-byte otherwise."""
    if not out.is_terminal:
        out.file.write(text if text.endswith("\n") or not text else text + "\n")
        return
    for line in text.splitlines():
        style = ("bold" if line.startswith(("diff ", "index ", "+++", "---")) else
                 "green" if line.startswith("+") else "red" if line.startswith("-") else
                 "cyan" if line.startswith("@@") else "")
        out.print(Text(line, style=style), soft_wrap=True)
