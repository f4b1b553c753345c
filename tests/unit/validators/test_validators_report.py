"""reports/validation.json and SARIF 2.1.0 renderings."""

from __future__ import annotations

import json

from services.validators.report import Finding, ToolResult, ValidationReport, overall_of, to_json, to_sarif


def sample() -> ValidationReport:
    tools = [
        ToolResult(tool="ruff", version="0.17.6", status="fail", duration_ms=12, findings=[
            Finding(rule="F401", path="svc/a.py", line=3, message="`os` imported but unused"),
            Finding(rule="E501", path="svc/b.py", line=9, message="line too long", severity="warning"),
        ]),
        ToolResult(tool="terraform-fmt", version="terraform 1.15.5", status="fail", findings=[
            Finding(rule="terraform-fmt-error", message="could not read configuration"),
        ]),
        ToolResult(tool="actionlint", version="1.7.12.25", status="skipped", reason="no wheel for this platform"),
    ]
    return ValidationReport(tools=tools, overall=overall_of(tools, False), secrets_found=False)


def test_overall_fail_beats_error_and_secrets_always_fail() -> None:
    ok = ToolResult(tool="a", status="pass")
    err = ToolResult(tool="b", status="error", reason="crashed")
    bad = ToolResult(tool="c", status="fail")
    skip = ToolResult(tool="d", status="skipped", reason="no input")
    assert overall_of([ok, skip], False) == "pass"
    assert overall_of([ok, err], False) == "error"
    assert overall_of([err, bad], False) == "fail"
    assert overall_of([ok], True) == "fail"


def test_json_round_trips() -> None:
    report = sample()
    text = to_json(report)
    assert text.endswith("\n")
    assert ValidationReport.model_validate_json(text) == report
    assert json.loads(text)["overall"] == "fail"


def test_sarif_has_the_required_structure() -> None:
    doc = json.loads(to_sarif(sample()))
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    assert [r["tool"]["driver"]["name"] for r in doc["runs"]] == ["ruff", "terraform-fmt", "actionlint"]
    for run in doc["runs"]:
        assert {"tool", "results"} <= run.keys()
        assert run["tool"]["driver"]["name"]
        rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
        for result in run["results"]:
            assert result["ruleId"] in rule_ids
            assert result["level"] in ("none", "note", "warning", "error")
            assert result["message"]["text"]
            for loc in result.get("locations", []):
                phys = loc["physicalLocation"]
                assert phys["artifactLocation"]["uri"]
                assert phys["region"]["startLine"] >= 1
    ruff = doc["runs"][0]["results"]
    assert ruff[0]["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "svc/a.py"},
                                                          "region": {"startLine": 3}}
    assert ruff[1]["level"] == "warning"
    assert "locations" not in doc["runs"][1]["results"][0]  # no path: no location rather than a fake one
    skipped = doc["runs"][2]["invocations"][0]
    assert skipped["executionSuccessful"] is False
    assert skipped["toolExecutionNotifications"][0]["message"]["text"] == "no wheel for this platform"


def test_the_committed_report_is_the_same_however_long_the_tools_took() -> None:
    a, b = sample(), sample()
    for i, t in enumerate(b.tools):
        t.duration_ms += 1000 * (i + 1)
    assert to_json(a) != to_json(b)  # the database keeps the timings
    assert to_json(a, timings=False) == to_json(b, timings=False)
    assert to_sarif(a, timings=False) == to_sarif(b, timings=False)
    assert "duration" not in to_json(a, timings=False).lower() and "duration" not in to_sarif(a, timings=False).lower()
