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
