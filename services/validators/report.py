"""The validation report and its two renderings: `reports/validation.json` and SARIF 2.1.0.

The JSON form is what the generated repository ships and the UI reads; SARIF is what code
hosts and IDEs ingest, one run per tool so that each tool's findings stay attributed to it.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field

ToolStatus = Literal["pass", "fail", "skipped", "error"]
Severity = Literal["error", "warning", "note"]
Overall = Literal["pass", "fail", "error"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"


class Finding(BaseModel):
    rule: str
    path: str | None = None
    line: int | None = Field(None, ge=1)
    message: str
    severity: Severity = "error"


class ToolResult(BaseModel):
    tool: str
    version: str = ""
    status: ToolStatus
    findings: list[Finding] = Field(default_factory=list)
    duration_ms: int = 0
    reason: str | None = Field(None, description="Why a tool was skipped or errored; never empty for those.")
    isolation: str = Field("", description="What the tool ran under: the sandbox for executed tools, "
                                           "`in-process` for parsers of the tree's files.")


class ValidationReport(BaseModel):
    tools: list[ToolResult] = Field(default_factory=list)
    overall: Overall = "pass"
    secrets_found: bool = False

    def tool(self, name: str) -> ToolResult | None:
        return next((t for t in self.tools if t.tool == name), None)


def overall_of(tools: list[ToolResult], secrets_found: bool) -> Overall:
    """Fail beats error beats pass; skipped tools are visible but do not fail the run."""
    statuses = {t.status for t in tools}
    if secrets_found or "fail" in statuses:
        return "fail"
    if "error" in statuses:
        return "error"
    return "pass"


def to_json(report: ValidationReport, timings: bool = True) -> str:
    """The content of `reports/validation.json` (stable key order, trailing newline).

    `timings=False` leaves out how long each tool took: the committed report is a function of the
    tree it checked, so a version validated twice commits the same file (the database keeps the
    timings)."""
    data = report.model_dump(mode="json", exclude=None if timings else {"tools": {"__all__": {"duration_ms"}}})
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def _sarif_result(f: Finding) -> dict:
    result: dict = {"ruleId": f.rule, "level": f.severity, "message": {"text": f.message or f.rule}}
    if f.path:
        physical: dict = {"artifactLocation": {"uri": f.path}}
        physical["region"] = {"startLine": f.line or 1}
        result["locations"] = [{"physicalLocation": physical}]
    return result


def _sarif_run(tool: ToolResult, timings: bool) -> dict:
    rules = sorted({f.rule for f in tool.findings})
    run: dict = {
        "tool": {"driver": {"name": tool.tool, "version": tool.version or "unknown",
                            "rules": [{"id": r} for r in rules]}},
        "results": [_sarif_result(f) for f in tool.findings],
        "invocations": [{"executionSuccessful": tool.status in ("pass", "fail")}],
        "properties": {"status": tool.status, **({"durationMs": tool.duration_ms} if timings else {}),
                       "isolation": tool.isolation},
    }
    if tool.reason:
        run["invocations"][0]["toolExecutionNotifications"] = [
            {"level": "note" if tool.status == "skipped" else "error", "message": {"text": tool.reason}}
        ]
    return run


def to_sarif(report: ValidationReport, timings: bool = True) -> str:
    """SARIF 2.1.0: one run per tool, results with ruleId, level, message and locations."""
    doc = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [_sarif_run(t, timings) for t in report.tools]}
    return json.dumps(doc, indent=2) + "\n"
