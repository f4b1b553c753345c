"""`ensure_stream` on a cluster that is still forming: what it waits out and what it does not.

A real cluster answers "no suitable peers for placement" only in a short window (a server that has
not reported to the meta leader yet), which a test cannot open at will; these answers are replayed
by a stand-in for the NATS client's JetStream context. The same code against real servers is in
`tests/integration/test_stream_replicas.py`.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from amp_runtime.bus import NO_PEERS_YET, ensure_stream, wait_for_stream
from nats.js.errors import BadRequestError


def _peer(name: str, current: bool = True, offline: bool = False) -> SimpleNamespace:
    return SimpleNamespace(name=name, current=current, offline=offline)


class _Cluster:
    """Answers as a cluster of three does: each call takes the next scripted answer."""

    def __init__(self, add: list, update: list, infos: list) -> None:
        self.add, self.update, self.infos = add, update, infos
        self.calls: list[str] = []

    @staticmethod
    async def _answer(script: list, call: str, calls: list[str]):
        calls.append(call)
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def add_stream(self, cfg):
        return await self._answer(self.add, "add", self.calls)

    async def update_stream(self, cfg):
        return await self._answer(self.update, "update", self.calls)

    async def stream_info(self, name):
        return await self._answer(self.infos, "info", self.calls)


def _no_peers() -> BadRequestError:
    return BadRequestError(code=400, err_code=NO_PEERS_YET, description="no suitable peers for placement, peer offline")


def _in_use() -> BadRequestError:
    return BadRequestError(code=400, err_code=10058, description="stream name already in use with a different configuration")


def _info(*replicas: SimpleNamespace) -> SimpleNamespace:
    return SimpleNamespace(cluster=SimpleNamespace(leader="amp-nats-0", replicas=list(replicas)))


async def test_scaling_up_waits_until_the_cluster_has_peers_for_every_copy() -> None:
    js = _Cluster(add=[_in_use()], update=[_no_peers(), _no_peers(), None],
                  infos=[_info(_peer("amp-nats-1"), _peer("amp-nats-2"))])
    await ensure_stream(js, "AMP", 120.0, replicas=3, deadline_s=10)
    assert js.calls == ["add", "update", "add", "update", "add", "update", "info"]


async def test_a_new_stream_with_nowhere_to_go_is_asked_for_again_not_updated() -> None:
    js = _Cluster(add=[_no_peers(), None], update=[AssertionError("a stream that does not exist was updated")],
                  infos=[_info(_peer("amp-nats-1"), _peer("amp-nats-2"))])
    await ensure_stream(js, "AMP", 120.0, replicas=3, deadline_s=10)
    assert js.calls == ["add", "add", "info"]


async def test_no_peers_past_the_deadline_is_raised() -> None:
    js = _Cluster(add=[_in_use()], update=[_no_peers()], infos=[_info()])
    with pytest.raises(BadRequestError) as raised:
        await ensure_stream(js, "AMP", 120.0, replicas=3, deadline_s=0.5)
    assert raised.value.err_code == NO_PEERS_YET


async def test_other_refusals_are_not_retried() -> None:
    bad = BadRequestError(code=400, err_code=10065, description="subjects overlap with an existing stream")
    js = _Cluster(add=[_in_use()], update=[bad], infos=[_info()])
    with pytest.raises(BadRequestError):
        await ensure_stream(js, "AMP", 120.0, replicas=3, deadline_s=10)
    assert js.calls == ["add", "update"]


async def test_a_copy_counts_once_the_leader_reports_it_caught_up() -> None:
    js = _Cluster(add=[None], update=[None], infos=[
        _info(_peer("amp-nats-1"), _peer("amp-nats-2", current=False)),
        _info(_peer("amp-nats-1"), _peer("amp-nats-2", offline=True)),
        _info(_peer("amp-nats-1"), _peer("amp-nats-2")),
    ])
    await wait_for_stream(js, "AMP", replicas=3, deadline_s=10)
    assert js.calls == ["info", "info", "info"]
    with pytest.raises(RuntimeError, match="no leader with 3 replica"):
        await wait_for_stream(_Cluster(add=[None], update=[None], infos=[_info(_peer("amp-nats-1", current=False))]),
                              "AMP", replicas=3, deadline_s=0.3)
