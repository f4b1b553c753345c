"""The evaluation data the tests score against: `eval/` in this repository.

`AMP_SHARED_DIR` optionally names a further evaluation set (its `eval/` directory laid out the
same way); its cases are added to the repository's, de-duplicated by id. The scorers and checkers
always come from the repository, so a plain clone tests itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "eval"
SCENARIO_CHECK = EVAL / "scenarios" / "check.py"
INTAKE_SCORER = EVAL / "intake" / "score.py"
API_CLIENT = EVAL / "api" / "client.py"


def _extra_eval() -> Path | None:
    shared = os.environ.get("AMP_SHARED_DIR")
    return Path(shared) / "eval" if shared else None


def _cases(relative: str) -> list[dict]:
    seen: dict[str, dict] = {}
    for base in (EVAL, _extra_eval()):
        path = base / relative if base else None
        if path is None or not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                seen.setdefault(case["id"], case)
    return list(seen.values())


def scenarios() -> list[dict]:
    """Planning scenarios: requirement texts with the properties a correct plan must have."""
    return _cases("scenarios/scenarios.jsonl")


def intake_cases() -> list[dict]:
    """Labelled requirement texts for constraint extraction."""
    return _cases("intake/cases.jsonl")


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
