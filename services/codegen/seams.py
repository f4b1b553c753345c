"""Seams: the places in the templates where model-written code may replace the template's own.

A seam is a whole top-level definition between `# amp:seam <id>: <instructions>` and
`# amp:end-seam`. The CodeGenProvider returns code per seam (the deterministic provider returns
the template's own, so output is unchanged offline); filled files are reformatted with ruff so the
repository stays lint-clean whoever wrote the code.
"""

from __future__ import annotations

import re
import subprocess
import sys

from .asks import Seam
from .codecheck import check_code, local_packages
from .render_app import PY_LINE_LENGTH

START = re.compile(r"^# amp:seam (?P<id>[\w.-]+)(?::\s*(?P<instructions>.*))?$")
END = "# amp:end-seam"


def _blocks(text: str):
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        m = START.match(lines[i].rstrip("\n"))
        if m:
            j = next((k for k in range(i + 1, len(lines)) if lines[k].rstrip("\n") == END), None)
            if j is None:
                raise ValueError(f"seam {m.group('id')} has no end marker")
            yield m, i, j, lines
            i = j
        i += 1


def find_seams(files: dict[str, str]) -> list[Seam]:
    seams = []
    for path, text in sorted(files.items()):
        if not path.endswith(".py") or "# amp:seam" not in text:
            continue
        for m, i, j, lines in _blocks(text):
            body = "".join(lines[i + 1:j]).strip("\n") + "\n"
            signature = next((ln.strip() for ln in lines[i + 1:j] if ln.lstrip().startswith("def ")), "")
            seams.append(Seam(id=m.group("id"), path=path, instructions=m.group("instructions") or "",
                              signature=signature, default=body))
    return seams


class UnsafeSeamCode(ValueError):
    """Code for a seam that breaks the allowlist reached the writer (the provider should have refused it)."""


def apply_fills(files: dict[str, str], seams: list[Seam], fills: dict[str, str]) -> dict[str, str]:
    """Put each seam's code in place; files whose code changed are formatted with ruff.

    Code that differs from the template's own is checked again here, whoever wrote it, so nothing
    outside the allowlist (see `codecheck`) is ever written into the tree.
    """
    by_path: dict[str, dict[str, str]] = {}
    local = local_packages(files)
    for s in seams:
        if fills.get(s.id, s.default).strip() != s.default.strip():
            if s.language == "python" and (problems := check_code(fills[s.id], path=s.path, local_packages=local)):
                raise UnsafeSeamCode(f"seam {s.id!r} in {s.path}: {'; '.join(problems)}")
            by_path.setdefault(s.path, {})[s.id] = fills[s.id]
    out = dict(files)
    for path, codes in by_path.items():
        text = files[path]
        pieces, last = [], 0
        lines = text.splitlines(keepends=True)
        for m, i, j, _ in _blocks(text):
            code = codes.get(m.group("id"))
            if code is None:
                continue
            pieces.append("".join(lines[last:i + 1]))
            pieces.append(code.strip("\n") + "\n\n\n")
            last = j
        pieces.append("".join(lines[last:]))
        out[path] = ruff_format("".join(pieces))
    return out


def ruff_format(source: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "ruff", "format", "--line-length", str(PY_LINE_LENGTH), "-"],
                          input=source, capture_output=True, text=True, timeout=30)
    return proc.stdout if proc.returncode == 0 else source
