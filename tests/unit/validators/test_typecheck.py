"""The type check of generated Python: it fails on a type error, and the tree's configuration cannot run code."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.validators.checks import validate_tree

pytestmark = pytest.mark.slow  # mypy in its own tool environment (installed on first use)

TYPED = '''from pydantic import BaseModel


class Score(BaseModel):
    value: float


def double(s: Score) -> float:
    return s.value * 2
'''


def _mypy(files: dict[str, str]):
    result = validate_tree(files, checks=["mypy"], checkov=False).tool("mypy")
    assert result is not None and result.status != "skipped", result
    return result


def test_well_typed_code_passes_against_the_installed_libraries() -> None:
    result = _mypy({"services/__init__.py": "", "services/score.py": TYPED})
    assert result.status == "pass", result.findings
    assert result.version


def test_a_type_error_fails_with_its_place_and_code() -> None:
    wrong = TYPED + '\n\ndef broken() -> str:\n    return double(Score(value=1.0))\n'
    result = _mypy({"services/__init__.py": "", "services/score.py": wrong})
    assert result.status == "fail"
    (finding,) = result.findings
    assert finding.path == "services/score.py" and finding.line == 13 and finding.rule == "return-value"


def test_the_trees_own_mypy_configuration_is_never_read(tmp_path: Path) -> None:
    """A plugin named in the tree's configuration would be imported (run) by mypy: the check ignores it."""
    marker = tmp_path / "plugin-ran"
    plugin = f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\ndef plugin(version):\n    return None\n"
    files = {"services/__init__.py": "", "services/score.py": TYPED, "evil_plugin.py": plugin,
             "pyproject.toml": '[tool.mypy]\nplugins = ["evil_plugin"]\n', "mypy.ini": "[mypy]\nplugins = evil_plugin\n",
             "setup.cfg": "[mypy]\nplugins = evil_plugin\n"}
    result = _mypy(files)
    assert result.status == "pass", result.findings
    assert not marker.exists()


def _one_text_per_domain() -> list[tuple[str, str]]:
    from tests.unit.codegen.test_domain import PHRASINGS  # noqa: PLC0415 - the domain tests' own phrasings

    first: dict[str, str] = {}
    for text, key in PHRASINGS:
        first.setdefault(key, text)
    return sorted(first.items())


@pytest.mark.parametrize(("key", "text"), _one_text_per_domain())
def test_every_domain_template_is_well_typed(key: str, text: str) -> None:
    from amp_domain.requirements.extraction import extract  # noqa: PLC0415

    from services.codegen.render import render_repository  # noqa: PLC0415
    from services.critics.cost import estimate  # noqa: PLC0415
    from services.planner.planning import compose_plan  # noqa: PLC0415

    constraints = extract(f"{text}. Retrain weekly.").constraints
    plan = compose_plan(constraints)
    files = render_repository(plan, constraints, estimate(plan, constraints), None, [], [], key)
    result = _mypy(files)
    assert result.status == "pass", [(f.path, f.line, f.message) for f in result.findings]


def test_cache_slots_are_reused_after_a_run_and_never_shared_during_one(tmp_path: Path) -> None:
    """A run's mypy cache is warm for the next run (whatever thread it is on) and private while in use."""
    import threading  # noqa: PLC0415

    from services.validators.checks.typecheck import cache_slot  # noqa: PLC0415

    with cache_slot(tmp_path) as first:
        (first / "warm").write_text("x")
        with cache_slot(tmp_path) as second:
            assert second != first  # a concurrent run gets a slot of its own
    seen: list[Path] = []

    def later_run() -> None:
        with cache_slot(tmp_path) as slot:
            seen.append(slot)

    worker = threading.Thread(target=later_run)
    worker.start()
    worker.join()
    assert seen == [first] and (first / "warm").read_text() == "x"


def test_a_cache_slot_held_by_another_process_is_not_taken(tmp_path: Path) -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time\n"
         f"f = open({str(tmp_path / 'slot-0.lock')!r}, 'a'); fcntl.flock(f, fcntl.LOCK_EX)\n"
         "print('held', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        from services.validators.checks.typecheck import cache_slot  # noqa: PLC0415

        with cache_slot(tmp_path) as slot:
            assert slot == tmp_path / "slot-1"
    finally:
        holder.kill()
        holder.wait()
    with cache_slot(tmp_path) as slot:
        assert slot == tmp_path / "slot-0"
