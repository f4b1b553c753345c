"""The documentation stays true of the code: its tables are rendered from the contracts, its paths exist.

`docs/architecture.md` holds blocks rendered from `amp_contracts` (the pipeline table, the model
calls, the stages, the decision-set lifecycle) between `<!-- BEGIN generated: NAME -->` and
`<!-- END generated: NAME -->`. When the code changes, these tests fail and say so; rewrite the
blocks with

    .venv/bin/python tests/unit/test_docs.py

Every repository path the docs name in backticks must exist, so a move that forgets the docs
fails here rather than misleading the next reader.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from amp_contracts import MODEL_CALLS, NODES, PIPELINE, STAGES, lifecycle

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
ADR_DIR = ROOT / "docs" / "adr"
#: Documents whose backticked paths are checked (the README is left to its own sections' owners).
CHECKED_DOCS = sorted([*(ROOT / "docs").rglob("*.md"), ROOT / "CONTRIBUTING.md"])
ROOTS = ("libs/", "services/", "tests/", "docs/", "eval/", "bench/", "deploy/", "scripts/", ".ci/")
BLOCK = re.compile(r"(<!-- BEGIN generated: (?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- END generated: (?P=name) -->)",
                   re.S)


def _short(subject: str) -> str:
    return f"`{subject}`"


def _names(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{i}`" for i in items) or "—"


def render_pipeline() -> str:
    lines = ["| consumes | service | step (key, `agent_runs` row) | runs (subgraph nodes) | publishes | continued by |",
             "|---|---|---|---|---|---|"]
    for s in PIPELINE:
        lines.append(f"| {_short(s.subject)} | `{s.service}` | `{s.node}` | {_names(s.runs)} | "
                     f"{_names(s.publishes)} | {_names(s.waits_for)} |")
    return "\n".join(lines) + "\n"


def render_model_calls() -> str:
    lines = ["| call (`AMP_PROVIDER_<CALL>`, `AMP_MODEL_<CALL>`) | service | prompt pack | writes code (no fallback when models are down) |",
             "|---|---|---|---|"]
    for m in MODEL_CALLS:
        lines.append(f"| `{m.name}` | `{m.service}` | `services/{m.service}/prompts/{m.pack}.yaml` | "
                     f"{'yes' if m.writes_code else 'no'} |")
    return "\n".join(lines) + "\n"


def render_stages() -> str:
    lines = ["| stage | label | nodes (label) |", "|---|---|---|"]
    for st in STAGES:
        nodes = [f"`{n.name}` ({n.label})" for n in NODES if n.stage == st.name]
        lines.append(f"| `{st.name}` | {st.label} | {', '.join(nodes) or '—'} |")
    return "\n".join(lines) + "\n"


def render_lifecycle() -> str:
    def kind(s: lifecycle.Status) -> str:
        return ("terminal" if s in lifecycle.TERMINAL else "running" if s in lifecycle.RUNNING
                else "waiting" if s in lifecycle.WAITING else "")

    lines = ["| status | kind | label | may become |", "|---|---|---|---|"]
    for s in lifecycle.Status:
        targets = [t for t in lifecycle.Status if t in lifecycle.TRANSITIONS[s]]  # enum order, stable
        lines.append(f"| `{s}` | {kind(s)} | {lifecycle.LABELS[s]} | {_names([str(t) for t in targets])} |")
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[], str]] = {"pipeline": render_pipeline, "model_calls": render_model_calls,
                                           "stages": render_stages, "lifecycle": render_lifecycle}


def blocks(text: str) -> dict[str, str]:
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


def rewrite(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + RENDERERS[m["name"]]() + m.group(4), text)


def test_architecture_doc_has_every_generated_block_once() -> None:
    names = [m["name"] for m in BLOCK.finditer(ARCHITECTURE.read_text(encoding="utf-8"))]
    assert sorted(names) == sorted(RENDERERS), names


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_generated_block_matches_the_code(name: str) -> None:
    found = blocks(ARCHITECTURE.read_text(encoding="utf-8")).get(name)
    assert found == RENDERERS[name](), (f"docs/architecture.md's {name} table differs from amp_contracts; "
                                        "rewrite it with: .venv/bin/python tests/unit/test_docs.py")


def test_the_lifecycle_table_reads_back_as_the_transitions() -> None:
    """Parse the doc's table the way a reader does and compare it with `TRANSITIONS`, not with a rendering."""
    table = blocks(ARCHITECTURE.read_text(encoding="utf-8"))["lifecycle"]
    read: dict[str, set[str]] = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        read[cells[0].strip("`")] = set(re.findall(r"`([a-z_]+)`", cells[3]))
    assert read == {str(s): {str(t) for t in targets} for s, targets in lifecycle.TRANSITIONS.items()}


def _paths(text: str) -> set[str]:
    out = set()
    for token in re.findall(r"`([^`\s]+)`", text):
        token = token.rstrip(".,;:)")
        if token.startswith(ROOTS) and not re.search(r"[<>*{}]", token):
            out.add(token.rstrip("/"))
    return out


def _exists(ref: str) -> bool:
    """A path, or `path::test_name` naming a function defined in that file."""
    path, _, name = ref.partition("::")
    target = ROOT / path
    if not target.exists():
        return False
    return not name or re.search(rf"^(async )?def {re.escape(name)}\b", target.read_text(encoding="utf-8"), re.M) is not None


@pytest.mark.parametrize("doc", CHECKED_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_paths_the_docs_name_exist(doc: Path) -> None:
    missing = sorted(p for p in _paths(doc.read_text(encoding="utf-8")) if not _exists(p))
    assert missing == [], f"{doc.relative_to(ROOT)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", CHECKED_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_tests_the_docs_name_exist(doc: Path) -> None:
    """A test the docs point a reader to (`test_…`) is defined somewhere under tests/."""
    named = set(re.findall(r"`(test_[a-z0-9_]+)`", doc.read_text(encoding="utf-8")))
    defined = {m for p in (ROOT / "tests").rglob("test_*.py")
               for m in re.findall(r"^(?:async )?def (test_[a-z0-9_]+)", p.read_text(encoding="utf-8"), re.M)}
    assert sorted(named - defined) == [], f"{doc.relative_to(ROOT)} names tests that do not exist"


def test_every_adr_is_indexed() -> None:
    index = (ADR_DIR / "README.md").read_text(encoding="utf-8")
    adrs = sorted(p.name for p in ADR_DIR.glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert adrs, "docs/adr holds no ADR"
    assert [n for n in adrs if f"({n})" not in index] == []
    numbers = [n[:4] for n in adrs]
    assert numbers == [f"{i:04d}" for i in range(1, len(adrs) + 1)], "ADR numbers run 0001, 0002, … without gaps"


if __name__ == "__main__":
    text = ARCHITECTURE.read_text(encoding="utf-8")
    new = rewrite(text)
    if new != text:
        ARCHITECTURE.write_text(new, encoding="utf-8")
        print(f"rewrote the generated tables of {ARCHITECTURE.relative_to(ROOT)}")
    else:
        print(f"{ARCHITECTURE.relative_to(ROOT)} is up to date")
    sys.exit(0)
