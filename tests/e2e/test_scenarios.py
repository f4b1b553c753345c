"""Every planning scenario of the evaluation set, through the real pipeline and `amp run`.

The properties are checked by the evaluation set's `check.py`; the generated repositories must pass the
validators (ruff, formatting, HCL, secrets, their own tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.evaldata import SCENARIO_CHECK, scenarios, write_jsonl

pytestmark = pytest.mark.integration
HERE = Path(__file__).resolve().parent


def amp_run(gateway: str, text: str, out: Path) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "amp_cli.main", "run", text, "--gateway", gateway, "--auto-approve",
                           "--json", "--no-input", "--out", str(out)], capture_output=True, text=True, timeout=300)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"amp run printed no JSON (exit {proc.returncode}): {proc.stderr[-2000:]}") from None


def test_every_scenario_holds_its_properties(stack, tmp_path) -> None:
    results = tmp_path / "results.jsonl"
    cases = scenarios()
    failures = []
    with results.open("w") as f:
        for s in cases:
            code, ds = amp_run(stack.gateway_url, s["text"], tmp_path / s["id"])
            f.write(json.dumps({"id": s["id"], "result": ds}) + "\n")
            failed_policy = (ds.get("policy") or {}).get("overall") == "fail"
            if failed_policy:
                assert code == 5, f"{s['id']}: a failed policy must stop at the gate (exit {code})"
                continue
            if code != 0 or ds["status"] != "completed":
                failures.append(f"{s['id']}: exit {code}, status {ds.get('status')}")
                continue
            validation = (ds.get("reports") or {}).get("validation") or {}
            bad = [t["tool"] for t in validation.get("tools", []) if t["status"] in ("fail", "error")]
            if bad or validation.get("secrets_found"):
                failures.append(f"{s['id']}: validators failed: {bad}")
            if not (tmp_path / s["id"] / "infra").is_dir():
                failures.append(f"{s['id']}: no infra/ written")
    assert not failures, failures
    check = subprocess.run([sys.executable, str(SCENARIO_CHECK), str(write_jsonl(cases, tmp_path / "scenarios.jsonl")),
                            str(results)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
