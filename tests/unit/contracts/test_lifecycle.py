"""The decision-set lifecycle as data: every transition checked, every refusal too."""

from __future__ import annotations

import itertools

import pytest
from amp_contracts import lifecycle
from amp_contracts.lifecycle import LABELS, RUNNING, TERMINAL, TRANSITIONS, WAITING, Status

ALL = list(Status)


def test_the_table_covers_every_status_and_only_known_ones() -> None:
    assert set(TRANSITIONS) == set(ALL) == set(LABELS)
    assert all(targets <= set(ALL) for targets in TRANSITIONS.values())
    assert TERMINAL | RUNNING | WAITING == set(ALL) and not (TERMINAL & (RUNNING | WAITING))


@pytest.mark.parametrize(("current", "new"), list(itertools.product(ALL, ALL)))
def test_allowed_and_sources_agree_for_every_pair(current: Status, new: Status) -> None:
    assert lifecycle.allowed(current, new) == (new in TRANSITIONS[current]) == (current in lifecycle.sources(new))


@pytest.mark.parametrize("end", sorted(TERMINAL))
def test_a_finished_decision_set_is_final(end: Status) -> None:
    assert not any(lifecycle.allowed(end, s) for s in ALL)
    assert lifecycle.is_terminal(end)


def test_every_status_can_fail_unless_it_has_ended() -> None:
    for s in set(ALL) - TERMINAL:
        assert lifecycle.allowed(s, Status.FAILED), s


def test_every_status_is_reachable_and_every_run_can_end() -> None:
    seen, frontier = {Status.INTAKE}, [Status.INTAKE]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(ALL)
    for s in ALL:  # from anywhere, some path leads to an end
        reach, todo = {s}, [s]
        while todo:
            for nxt in TRANSITIONS[todo.pop()] - reach:
                reach.add(nxt)
                todo.append(nxt)
        assert reach & TERMINAL, s


def test_the_gate_is_decided_once() -> None:
    assert lifecycle.sources(Status.DECIDING) == {Status.WAITING_APPROVAL}
    assert not lifecycle.allowed(Status.DECIDING, Status.DECIDING)
    assert lifecycle.sources(Status.EXPIRING) == {Status.WAITING_APPROVAL}


def test_unknown_statuses_are_refused() -> None:
    with pytest.raises(ValueError):
        lifecycle.allowed("planning", "teleported")
