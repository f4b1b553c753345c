"""The A/B report of `python -m bench.ab`: medians per revision and of the paired differences."""

from __future__ import annotations

from bench.ab import report


def _m(total: float, **by: float) -> dict:
    return {"total_ms": total, "by_process_ms": by}


def test_the_report_pairs_each_round_and_takes_medians() -> None:
    rounds = [{"a": _m(100.0, postgres=20.0, gateway=10.0), "b": _m(90.0, postgres=18.0, gateway=10.0)},
              {"a": _m(130.0, postgres=26.0, gateway=13.0), "b": _m(125.0, postgres=25.0, gateway=12.0)},
              {"a": _m(110.0, postgres=22.0, gateway=11.0), "b": _m(101.0, postgres=20.0)}]
    out = report("a", "b", rounds)
    assert out["cpu_per_plan_ms"] == {"a": 110.0, "b": 101.0}
    # the differences of the rounds are -10, -5, -9: their median, not the difference of the medians
    assert out["head_minus_base_ms"] == -9.0
    assert out["each_round_ms"] == [[100.0, 90.0], [130.0, 125.0], [110.0, 101.0]]
    # a process a revision does not have counts as 0 in that round
    assert out["by_process_ms"]["gateway"] == {"a": 11.0, "b": 10.0, "head_minus_base": -1.0}
    # per process, too, the median of the rounds' differences (-2, -1, -2)
    assert out["by_process_ms"]["postgres"] == {"a": 22.0, "b": 20.0, "head_minus_base": -2.0}
