"""The CLI's closing summary says when generated code was not run for want of isolation."""

from __future__ import annotations

from amp_cli.run import summary
from rich.console import Console


def test_a_check_not_run_for_want_of_isolation_is_named() -> None:
    console = Console(record=True, width=200)
    ds = {"id": "d1", "version": 1, "status": "completed", "reports": {"validation": {"overall": "pass", "tools": [
        {"tool": "ruff", "status": "pass"},
        {"tool": "pytest", "status": "skipped", "reason": "no isolation: the generated code was not run (no bwrap)"},
    ]}}}
    summary(ds, console)
    text = console.export_text()
    assert "validation pass" in text
    assert "pytest not run: no isolation: the generated code was not run (no bwrap)" in text


def test_a_sandboxed_run_prints_no_warning() -> None:
    console = Console(record=True, width=200)
    summary({"id": "d1", "version": 1, "status": "completed", "reports": {"validation": {"overall": "pass", "tools": [
        {"tool": "pytest", "status": "pass", "isolation": "bubblewrap 0.11.0"}]}}}, console)
    assert "not run" not in console.export_text()
