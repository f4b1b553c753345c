"""The CLI's closing summary says when generated code was not run for want of isolation."""

from __future__ import annotations

from amp_cli.output import validation_failed
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


def test_a_failed_validation_is_said_with_its_findings() -> None:
    console = Console(record=True, width=200)
    ds = {"id": "d1", "version": 1, "status": "completed", "reports": {"validation": {"overall": "fail", "tools": [
        {"tool": "ruff", "status": "pass"},
        {"tool": "pytest", "status": "fail", "findings": [
            {"rule": "test_train_gate", "path": "services/training/tests/test_train.py", "line": 12,
             "message": "AssertionError: recall below threshold"}]},
    ]}}}
    summary(ds, console)
    text = console.export_text()
    assert "validation fail" in text
    assert "did not pass validation" in text
    assert "services/training/tests/test_train.py:12 test_train_gate: AssertionError: recall below threshold" in text


def test_validation_failed_reads_the_overall_result() -> None:
    assert validation_failed({"reports": {"validation": {"overall": "error", "tools": []}}})
    assert not validation_failed({"reports": {"validation": {"overall": "pass", "tools": []}}})
    assert not validation_failed({"reports": {}})  # not validated yet is not a failure
