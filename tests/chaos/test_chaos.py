"""The chaos suite, small: a few runs while services are killed and NATS and Postgres restart.

`amp chaos` runs it at full size (20 runs, docs/reliability.md). Its own servers, in a scratch
directory: the session's servers are not the ones restarted.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from amp_cli.chaos import ChaosOptions, run_chaos

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.timeout(1800)]


def test_every_run_ends_once_with_every_effect_once_under_faults(tmp_path: Path) -> None:
    runs = int(os.environ.get("AMP_CHAOS_RUNS", "4"))
    report = run_chaos(ChaosOptions(runs=runs, seed=13, timeout_s=900), tmp_path / "chaos")
    assert report.problems == []
    assert report.completed == runs
    assert report.duplicates == 0 and report.lost == 0
    assert report.faults["kill -9"] > 0
    assert report.faults.get("nats restart") == 1 and report.faults.get("postgres restart") == 1
