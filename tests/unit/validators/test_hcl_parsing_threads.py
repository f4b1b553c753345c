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
from services.validators.checks.hclparse import loads
from tests.evaldata import scenarios


@pytest.fixture(scope="module")
def fraud_files() -> dict[str, str]:
    scenario = next(s for s in scenarios() if s["id"] == "fraud-eu-pci")
    constraints = extract(scenario["text"]).constraints
    plan = compose_plan(constraints)
    return render_repository(plan, constraints, estimate(plan, constraints), None, [], [], scenario["id"])


def _tree(fraud_files) -> list[str]:
    return [t for p, t in sorted(fraud_files.items()) if p.startswith("infra/") and p.endswith((".tf", ".tfvars"))]


def test_only_hclparse_calls_the_parser():
    here = Path(checks_pkg.__file__).parent
    direct = [p.name for p in here.glob("*.py") if p.name != "hclparse.py"
              and re.search(r"^\s*(import hcl2|from hcl2)", p.read_text(), re.MULTILINE)]
    assert not direct, f"parse HCL through hclparse.loads, not hcl2 directly: {direct}"


def test_parses_from_every_check_at_once_equal_the_sequential_ones(fraud_files):
    texts = _tree(fraud_files)
    assert len(texts) > 10
    expected = [json.dumps(loads(t), sort_keys=True, default=str) for t in texts]
    tfmodel.parse.cache_clear()
    names._parse.cache_clear()
    parsers = (loads, tfmodel.parse, names._parse)

    def job(n: int) -> tuple[int, str]:
        i = n % len(texts)
        return i, json.dumps(parsers[n % len(parsers)](texts[i]), sort_keys=True, default=str)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(job, range(len(texts) * 6)))
    differ = sorted({i for i, out in results if out != expected[i]})
    assert not differ, f"{len(differ)} file(s) parsed differently under concurrency"
