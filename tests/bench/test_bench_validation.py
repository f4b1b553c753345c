"""`python -m bench.validation`: new projects' trees validated in-process, with their CPU."""

from __future__ import annotations

from bench.common import scenario_texts
from bench.validation import measure, next_version, per_tool, render
from services.validators.checks import typecheck


def test_each_validation_is_a_new_project_and_its_cpu_is_counted() -> None:
    texts = scenario_texts()[:1]
    assert render(texts[0]["text"], "one") != render(texts[0]["text"], "two")  # the name reaches the tree
    out = measure(texts, rounds=2, checks=["names"])
    assert out["validations"] == 2
    assert out["wall_s"]["p50"] > 0 and out["cpu_s"]["mean"] > 0
    assert set(out["by_text"]) == {texts[0]["id"]}
    assert {"names", "detect-secrets"} <= set(out["tool_ms_p50"])  # the scan that always runs is there too


def test_a_tool_alone_is_measured_less_the_scan_that_always_runs() -> None:
    alone = per_tool(scenario_texts()[:1], ["names"])
    assert list(alone) == ["detect-secrets", "names"]
    assert alone["detect-secrets"] > 0 and alone["names"] >= 0


def test_a_next_version_is_timed_after_its_first_and_reuses_its_verdicts() -> None:
    texts = scenario_texts()[:1]
    files = render(texts[0]["text"], "one")
    later = next_version(files)
    assert later != files and {p for p in later if later[p] != files.get(p)} == {"plan.md"}
    typecheck.VERDICTS.clear()
    out = measure(texts, rounds=1, checks=["mypy"], again=True)
    # Timed; its CPU may read 0: with mypy's verdict reused it can take less than the 10 ms the
    # kernel counts CPU time in (that CPU is counted at all is the first test's point).
    assert out["validations"] == 1 and out["wall_s"]["mean"] > 0 and out["cpu_s"]["mean"] >= 0
    assert "mypy" in out["tool_ms_p50"]
    assert len(typecheck.VERDICTS) == 2  # the warm-up's tree and the first version's: the next one reused it
