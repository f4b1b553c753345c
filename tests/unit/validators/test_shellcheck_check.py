"""The `shellcheck` check finds what actionlint's own shellcheck integration finds, with its words,
from one shellcheck process, and judges a script it has seen before from memory."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator

import pytest

from bench.validation import render as generated_tree
from services.validators.checks import shellcheck, validate_tree
from services.validators.checks.shellcheck import run_scripts, sanitize
from services.validators.report import ToolResult
from services.validators.sandbox import Sandbox
from services.validators.toolenv import ACTIONLINT, SHELLCHECK, ToolUnavailable, ensure_tool
from tests.evaldata import scenarios

# Every way a `run:` script reaches shellcheck, or does not: the shells and their defaults, a
# Windows runner, block styles, expressions (one spanning lines, one with non-ASCII bytes), a
# sourced file, a parse error, and the same script in two jobs.
MANY = """\
name: many
on: [push]
defaults:
  run:
    shell: sh
jobs:
  plain-sh:
    runs-on: ubuntu-latest
    steps:
      - run: echo $HOME/$1
      - run: |
          for f in $(ls *.txt); do
            cat $f
          done
      - name: folded
        run: >
          echo ${{ github.sha }} $UNQUOTED
  job-bash:
    runs-on: [ubuntu-latest]
    defaults:
      run:
        shell: bash
    steps:
      - run: |
          set -x

          if [ $# == 1 ]; then echo "${{ matrix.x }}" ; fi
          read line
      - shell: bash -e {0}
        run: "echo $UNQUOTED_IN_QUOTES"
      - shell: sh -e {0}
        run: |
          [[ -n "$x" ]] && echo "${{ format('{0}
            {1}', 'a', 'b') }}" $y
      - shell: python
        run: print($x)
      - run: |
          source ./scripts/env.sh
          echo $FROM_ENV
      - run: |
          echo "${{ inputs.größe }}" $z
      - run: |
          if then fi (
      - run: echo one
          two $folded_plain
  twice:
    runs-on: ubuntu-latest
    steps:
      - run: echo $HOME/$1
"""
OTHER = """\
on: push
jobs:
  one:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo $HOME/$1
      - run: ls -l | grep foo | wc -l
  windows:
    runs-on: [self-hosted, Windows-2022]
    steps:
      - run: echo $x
      - shell: bash
        run: echo $x
"""
SCRIPTS = {"scripts/env.sh": "export FROM_ENV=1\n"}


def _tool(spec):
    try:
        return ensure_tool(spec)
    except ToolUnavailable as exc:
        pytest.skip(f"{spec.name} tool env unavailable: {exc.reason}")


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """The command lines of the shellcheck processes the check starts (they still run)."""
    argvs: list[list[str]] = []
    real = Sandbox.run

    def run(self: Sandbox, argv: list[str], **kwargs: object):
        if "shellcheck" in argv[0]:
            argvs.append(list(argv))
        return real(self, argv, **kwargs)

    monkeypatch.setattr(Sandbox, "run", run)
    yield argvs


_LINE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+):\d+: (?P<msg>.*) \[shellcheck\]$")


def _actionlint(files: dict[str, str], tmp_path) -> list[tuple[str, int, str]]:
    """(path, line, message) of actionlint's shellcheck findings, with the same shellcheck."""
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    workflows = sorted(p for p in files if p.startswith(".github/workflows/"))
    out = subprocess.run([str(_tool(ACTIONLINT)), "-no-color", "-oneline", f"-shellcheck={_tool(SHELLCHECK)}",
                          *workflows], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    found = [(m["path"], int(m["line"]), m["msg"]) for line in out.stdout.splitlines() if (m := _LINE.match(line))]
    assert out.returncode in (0, 1), out.stderr
    return found


def _check(files: dict[str, str]) -> ToolResult:
    result = validate_tree(files, checks=["shellcheck"], checkov=False).tool("shellcheck")
    assert result is not None and result.status in ("pass", "fail"), result
    return result


pytestmark = pytest.mark.slow  # shellcheck and actionlint from their tool environments


def test_the_findings_are_actionlints_on_every_kind_of_script(tmp_path) -> None:
    files = {".github/workflows/many.yml": MANY, ".github/workflows/other.yaml": OTHER, **SCRIPTS}
    expected = _actionlint(files, tmp_path)
    shellcheck.COMMENTS.clear()
    result = _check(files)
    assert result.status == "fail"
    assert Counter((f.path, f.line, f.message) for f in result.findings) == Counter(expected)
    assert len(expected) >= 10 and {m.split(": ")[1].split(":")[0] for _, _, m in expected} >= {"SC2086", "SC1072"}
    # Where the script lines up with the file, a finding points at its own line, not at `run:`.
    lines = MANY.splitlines()
    read = next(f for f in result.findings if "read without -r" in f.message)
    assert lines[read.line - 1].strip() == "read line"


@pytest.mark.parametrize("scenario", [s["id"] for s in scenarios()[:3]])
def test_a_generated_repository_agrees_with_actionlint(scenario: str, tmp_path) -> None:
    text = next(s["text"] for s in scenarios() if s["id"] == scenario)
    files = {p: t for p, t in generated_tree(text, "demo").items() if p.startswith(".github/")}
    planted = files[".github/workflows/ci.yml"].replace("\n    steps:\n", "\n    steps:\n      - run: echo $1 $2\n", 1)
    files[".github/workflows/ci.yml"] = planted
    shellcheck.COMMENTS.clear()
    expected = _actionlint(files, tmp_path)
    result = _check(files)
    assert expected and Counter((f.path, f.line, f.message) for f in result.findings) == Counter(expected)


def test_a_script_judged_before_is_answered_from_memory(started: list[list[str]]) -> None:
    shellcheck.COMMENTS.clear()
    files = {".github/workflows/many.yml": MANY, **SCRIPTS}
    first = _check(files)
    assert len(started) == 2  # one process for the bash scripts, one for the sh ones
    distinct = {(s.shell, s.text) for s in run_scripts(".github/workflows/many.yml", MANY)}
    assert sum(len([a for a in argv if a.endswith((".bash", ".sh"))]) for argv in started) == len(distinct)

    again = _check(files | {".github/workflows/other.yaml": OTHER.replace("grep foo", "grep bar")})
    # Only the script that sources a file, and the three scripts of the new workflow not seen before.
    assert len(started) == 3 and len([a for a in started[2] if a.endswith(".bash")]) == 4
    assert [f for f in again.findings if f.path.endswith("many.yml")] == first.findings

    edited = MANY.replace("cat $f", 'cat "$f"')
    third = _check({".github/workflows/many.yml": edited, **SCRIPTS})
    assert [a for a in started[-1] if a.endswith((".bash", ".sh"))] and len(third.findings) < len(first.findings)


def test_what_reaches_shellcheck() -> None:
    scripts = run_scripts(".github/workflows/many.yml", MANY)
    shells = [(s.line, s.shell) for s in scripts]
    assert shells[:3] == [(10, "sh"), (11, "sh"), (16, "sh")]  # the workflow's default
    assert (24, "bash") in shells  # the job's default
    assert (30, "bash") in shells and (32, "sh") in shells  # a step's `bash -e {0}` and `sh -e {0}`
    assert all(line != 36 for line, _ in shells)  # python
    windows = [(s.line, s.shell) for s in run_scripts(".github/workflows/other.yaml", OTHER)][2:]
    assert windows == [(14, "bash")]  # a Windows runner's default is pwsh; a step's own shell counts
    assert all(s.text.startswith(("set -eo pipefail\n", "set -e\n")) for s in scripts)
    # One underscore a character (not a byte), line breaks kept.
    assert sanitize('a ${{ x }} b ${{ "ü"\n }}') == "a " + "_" * 8 + " b " + "_" * 7 + "\n" + "_" * 3
    assert sanitize("${{ no end") == "${{ no end"
    assert run_scripts("x.yml", "jobs: [") == [] and run_scripts("x.yml", "on: push\n") == []


def test_no_workflows_is_skipped() -> None:
    result = validate_tree({"README.md": "# x\n"}, checks=["shellcheck"], checkov=False).tool("shellcheck")
    assert result is not None and result.status == "skipped" and result.reason


def test_without_its_tool_environment_a_shellcheck_on_path_is_used_or_the_check_says_why(
        monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    real = _tool(SHELLCHECK)

    def unavailable(spec, **_: object):
        raise ToolUnavailable("shellcheck", "no package index")

    monkeypatch.setattr(shellcheck, "ensure_tool", unavailable)
    monkeypatch.setattr(shellcheck, "tool_path", lambda: str(tmp_path))
    files = {".github/workflows/other.yaml": OTHER}
    none = validate_tree(files, checks=["shellcheck"], checkov=False).tool("shellcheck")
    assert none is not None and none.status == "skipped" and "no package index" in (none.reason or "")

    shutil.copy2(real, tmp_path / "shellcheck")  # a copy: the sandbox shows the tool's own folder
    shellcheck.COMMENTS.clear()
    found = _check(files)
    assert found.status == "fail" and found.version.startswith("the system's") and found.findings
