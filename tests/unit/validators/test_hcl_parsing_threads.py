"""HCL parsing is safe under the validators' thread pool.

python-hcl2 keeps its lark parsers as module state; two threads parsing at once return corrupted
documents (measured: most concurrent parses of a generated tree differ from the sequential ones).
The checks run in parallel, so every parse goes through one process-wide lock
(`services.validators.checks.hclparse`), whichever check asks.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from amp_domain.requirements.extraction import extract

import services.validators.checks as checks_pkg
from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.validators.checks import names, tfmodel
from services.validators.checks.hclparse import clear_cache, loads
from tests.evaldata import scenarios


@pytest.fixture(scope="module")
def fraud_files() -> dict[str, str]:
    scenario = next(s for s in scenarios() if s["id"] == "fraud-eu-pci")
    constraints = extract(scenario["text"]).constraints
    plan = compose_plan(constraints)
    return render_repository(plan, constraints, estimate(plan, constraints), None, [], [], scenario["id"])


def _tree(fraud_files) -> list[str]:
    return [t for p, t in sorted(fraud_files.items()) if p.startswith("infra/") and p.endswith((".tf", ".tfvars"))]


#: Modules that use a parser of their own process: `checkov_warm` runs in the checkov worker, whose
#: parses are checkov's (one at a time, before its rendering threads start), not in this thread pool.
OTHER_PROCESSES = {"checkov_warm.py"}


def test_only_hclparse_calls_the_parser():
    here = Path(checks_pkg.__file__).parent
    direct = [p.name for p in here.glob("*.py") if p.name != "hclparse.py" and p.name not in OTHER_PROCESSES
              and re.search(r"^\s*(import hcl2|from hcl2)", p.read_text(), re.MULTILINE)]
    assert not direct, f"parse HCL through hclparse.loads, not hcl2 directly: {direct}"


def test_parses_from_every_check_at_once_equal_the_sequential_ones(fraud_files):
    texts = _tree(fraud_files)
    assert len(texts) > 10
    expected = [json.dumps(loads(t), sort_keys=True, default=str) for t in texts]
    clear_cache()
    parsers = (loads, tfmodel.parse, names._parse)

    def job(n: int) -> tuple[int, str]:
        i = n % len(texts)
        return i, json.dumps(parsers[n % len(parsers)](texts[i]), sort_keys=True, default=str)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(job, range(len(texts) * 6)))
    differ = sorted({i for i, out in results if out != expected[i]})
    assert not differ, f"{len(differ)} file(s) parsed differently under concurrency"


def test_the_checks_that_read_the_same_files_parse_each_once(fraud_files, monkeypatch):
    from collections import Counter  # noqa: PLC0415

    from services.validators.checks import hclparse, validate_tree  # noqa: PLC0415

    parsed: Counter[str] = Counter()
    real = hclparse._hcl2_loads

    def counting(text: str):
        parsed[text] += 1
        return real(text)

    monkeypatch.setattr(hclparse, "_hcl2_loads", counting)
    clear_cache()
    report = validate_tree(fraud_files, checks=["hcl2", "tf-interface", "names"], checkov=False)
    assert [report.tool(n).status for n in ("hcl2", "tf-interface", "names")] == ["pass"] * 3
    tf = {t for p, t in fraud_files.items() if p.endswith(".tf")}
    assert tf <= set(parsed), "hcl2 parses every .tf file"
    assert max(parsed.values()) == 1, [t[:60] for t, n in parsed.items() if n > 1]


def test_a_file_that_does_not_parse_fails_alike_for_every_caller_and_a_changed_file_is_parsed_anew(monkeypatch):
    from services.validators.checks import hclparse  # noqa: PLC0415

    calls: list[str] = []
    real = hclparse._hcl2_loads
    monkeypatch.setattr(hclparse, "_hcl2_loads", lambda text: calls.append(text) or real(text))
    clear_cache()
    broken = 'resource "aws_s3_bucket" "a" {\n  bucket = \n'
    errors = []
    for _ in range(3):
        with pytest.raises(Exception) as caught:  # noqa: PT011 - lark raises several types
            hclparse.parse(broken)
        errors.append(str(caught.value))
    assert calls == [broken] and len(set(errors)) == 1 and errors[0]
    fixed = 'resource "aws_s3_bucket" "a" {\n  bucket = "b"\n}\n'
    assert hclparse.parse(fixed)["resource"] and calls == [broken, fixed]
    with pytest.raises(type(caught.value)):
        hclparse.loads(broken)  # the uncached reading parses afresh
    assert calls == [broken, fixed, broken]


def test_the_document_cache_is_bounded(monkeypatch):
    from services.validators.checks import hclparse  # noqa: PLC0415

    monkeypatch.setattr(hclparse, "CACHE_SIZE", 3)
    clear_cache()
    texts = [f'variable "v{i}" {{}}\n' for i in range(5)]
    for t in texts:
        hclparse.parse(t)
    assert list(hclparse._cache) == texts[-3:]
