"""Remembered verdicts: keyed by the tool and every file it reads, handed out as copies, bounded."""

from __future__ import annotations

from pathlib import PurePosixPath

from services.validators.checks.verdicts import Verdicts, content_key, program_key, remembered
from services.validators.report import Finding, ToolResult

FILES = {"infra/main.tf": "resource {}\n", "infra/variables.tf": "variable \"x\" {}\n"}


def test_the_key_rests_on_the_tool_and_each_path_and_content_not_on_order():
    key = content_key("terraform 1.11", FILES)
    assert key == content_key("terraform 1.11", dict(reversed(list(FILES.items()))))
    assert key == content_key("terraform 1.11", {PurePosixPath(p): t for p, t in FILES.items()})
    assert key != content_key("terraform 1.12", FILES)
    assert key != content_key("terraform 1.11", {**FILES, "infra/main.tf": "resource {} \n"})
    assert key != content_key("terraform 1.11", {"infra/other.tf": FILES["infra/main.tf"],
                                                 "infra/variables.tf": FILES["infra/variables.tf"]})
    assert key != content_key("terraform 1.11", {**FILES, "infra/empty.tf": ""})
    # a path and a content cannot be shifted into each other
    assert content_key("t", {"a": "bc"}) != content_key("t", {"ab": "c"})


def test_verdicts_are_copies_without_the_first_runs_time_and_the_oldest_go_first():
    kept = Verdicts(size=2)
    result = ToolResult(tool="checkov", version="3", status="pass", duration_ms=1500,
                        findings=[Finding(rule="CKV_AWS_24", path="infra/main.tf", message="ssh", severity="warning")])
    kept.put("a", result)
    got = kept.get("a")
    assert got is not None and got.duration_ms == 0 and got.findings == result.findings and got.status == "pass"
    got.findings.clear()
    assert kept.get("a").findings == result.findings  # the caller's changes stay with the caller
    result.findings.clear()
    assert kept.get("a").findings  # and so do the producer's
    kept.put("b", result)
    assert kept.get("a") is not None  # used last: "b" is now the oldest
    kept.put("c", result)
    assert kept.get("b") is None and kept.get("a") is not None and kept.get("c") is not None
    assert kept.get("missing") is None


def test_remembered_keeps_only_what_the_tool_reached():
    kept = Verdicts()
    calls: list[str] = []

    def run(status: str) -> ToolResult:
        calls.append(status)
        return ToolResult(tool="t", status=status, reason=None if status in ("pass", "fail") else "why")

    for status in ("error", "skipped"):
        assert remembered(kept, status, lambda s=status: run(s)).status == status
        assert remembered(kept, status, lambda s=status: run(s)).status == status
    assert calls == ["error", "error", "skipped", "skipped"]  # asked again each time
    for status in ("pass", "fail"):
        assert remembered(kept, status, lambda s=status: run(s)).status == status
        assert remembered(kept, status, lambda: run("error")).status == status
    assert calls[4:] == ["pass", "fail"]
    assert remembered(kept, "only-pass", lambda: run("fail"), keep={"pass"}).status == "fail"
    assert remembered(kept, "only-pass", lambda: run("pass"), keep={"pass"}).status == "pass"


def test_a_helper_program_is_named_by_its_binary_or_its_absence(tmp_path):
    assert program_key("no-such-helper", str(tmp_path)) == "no-such-helper: None"
    helper = tmp_path / "helper"
    helper.write_text("#!/bin/sh\n")
    helper.chmod(0o755)
    found = program_key("helper", str(tmp_path))
    assert str(helper) in found
    helper.write_text("#!/bin/sh\necho replaced\n")
    assert program_key("helper", str(tmp_path)) != found  # a replaced binary is another tool
