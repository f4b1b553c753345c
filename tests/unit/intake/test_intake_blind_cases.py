"""A third labelled set, written before reading the extractor, scored by the shared eval script.

The cases vary what the visible and extra sets hold fixed: regions of all three clouds by
city, short display name and code (Sydney, São Paulo, Mumbai, Canada Central, Oregon,
Ireland, N. Virginia, asia-northeast3), budgets in words or per year/quarter without a
currency ("under five thousand dollars a month", "1.2M per year to spend"), latencies in
words ("half a second"), rates per hour and per device interval ("a GPS ping every 2
seconds"), arrivals through a message system, hedged and abandoned clouds, compliance
aliases and lone-word languages. Held to the same bar as the other sets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from amp_domain.requirements.extraction import extract

from tests.evaldata import INTAKE_SCORER

HERE = Path(__file__).resolve().parent
BLIND = HERE / "extra_cases_blind.jsonl"


def test_blind_set_meets_bar(tmp_path: Path) -> None:
    predictions = tmp_path / "blind.predictions.jsonl"
    with predictions.open("w", encoding="utf-8") as out:
        for line in BLIND.read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                stated = extract(case["text"]).constraints.stated()
                out.write(json.dumps({"id": case["id"], "constraints": stated}) + "\n")
    result = subprocess.run([sys.executable, str(INTAKE_SCORER), str(BLIND), str(predictions), "--min-f1", "0.95",
                             "--misses"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_blind_cases_are_well_formed() -> None:
    ids = set()
    for line in BLIND.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        assert {"id", "text", "gold"} <= set(case)
        assert case["id"] not in ids
        ids.add(case["id"])
    assert len(ids) >= 40
