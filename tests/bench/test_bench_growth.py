"""The growth ratio of `amp bench`: version N over version 1 on a robust line through every version."""

from __future__ import annotations

import random

from bench.growth import trend_ratio


def test_a_steady_growth_is_read_through_the_noise() -> None:
    rng = random.Random(7)
    flat = [80.0 + rng.gauss(0, 4) for _ in range(50)]
    growing = [80.0 * (1 + 0.5 * i / 49) + rng.gauss(0, 4) for i in range(50)]  # version 50 at 1.5x version 1
    assert abs(trend_ratio(flat) - 1.0) < 0.06
    assert abs(trend_ratio(growing) - 1.5) < 0.06


def test_a_few_slow_round_trips_at_one_end_do_not_make_a_growth() -> None:
    ms = [80.0] * 50
    ms[45] = ms[47] = ms[49] = 140.0  # three of the last five: their p50 over the first five's reads 1.75
    assert trend_ratio(ms) < 1.05


def test_too_few_versions_give_no_ratio() -> None:
    assert trend_ratio([80.0]) is None and trend_ratio([]) is None
    assert trend_ratio([80.0, 88.0]) == 1.1
