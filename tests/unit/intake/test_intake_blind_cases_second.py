"""A fourth labelled set of 40 cases, written before the fixes it prompted, from the texts alone.

The gold was set down from each requirement as an architect would read it, with no run of
the extractor. The cases vary what the earlier sets hold fixed: a USD figure beside a budget
in another currency ("£8k pcm, roughly $10,000", "4.500 € monthly, i.e. around 4.900 USD"),
a peak named after its rate with an off-peak rate in an aside, per-minute abbreviations
(RPM), intervals per device ("1,500 buses, each every 10 seconds"), a daily count with a
peak factor, latencies in microseconds, availability as a downtime allowance, regimes put
out of scope, tools migrated from and to, and a streaming business that is not a stream.
Held to the same bar as the other sets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from amp_domain.requirements.extraction import extract

from tests.evaldata import INTAKE_SCORER

HERE = Path(__file__).resolve().parent
BLIND = HERE / "extra_cases_blind2.jsonl"


def test_second_blind_set_meets_bar(tmp_path: Path) -> None:
    predictions = tmp_path / "blind2.predictions.jsonl"
    with predictions.open("w", encoding="utf-8") as out:
        for line in BLIND.read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                stated = extract(case["text"]).constraints.stated()
                out.write(json.dumps({"id": case["id"], "constraints": stated}) + "\n")
    result = subprocess.run([sys.executable, str(INTAKE_SCORER), str(BLIND), str(predictions), "--min-f1", "0.95",
                             "--misses"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_second_blind_cases_are_well_formed() -> None:
    ids = set()
    for line in BLIND.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        assert {"id", "text", "gold"} <= set(case)
        assert case["id"] not in ids
        ids.add(case["id"])
    assert len(ids) >= 40
