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


def test_a_process_share_of_the_whole_cancels_the_machine_speed() -> None:
    # a machine 30 % slower in the second round: every process's milliseconds move, the shares do not
    rounds = [{"a": _m(100.0, postgres=25.0, rest=75.0), "b": _m(98.0, postgres=23.0, rest=75.0)},
              {"a": _m(130.0, postgres=32.5, rest=97.5), "b": _m(127.4, postgres=29.9, rest=97.5)},
              {"a": _m(100.0, postgres=25.0, rest=75.0), "b": _m(130.0, postgres=30.0, rest=100.0)}]
    out = report("a", "b", rounds)
    assert out["share_of_total_pct"]["postgres"] == {"a": 25.0, "b": 23.47}
    assert out["share_of_total_pct"]["rest"] == {"a": 75.0, "b": 76.53}
    assert out["by_process_ms"]["postgres"]["head_minus_base"] == -2.0  # the milliseconds: -2, -2.6 and +5
