"""AMP_STREAM_REPLICAS on a real NATS cluster of three (the Helm chart's topology, on loopback),
and the clear refusal of a single server."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest
from amp_runtime.bus import PUBLISH_RETRIES, connect, ensure_stream, publish
from amp_runtime.embedded import EmbeddedNats, free_port, nats_server_binary
from nats.js.errors import NoStreamResponseError

pytestmark = pytest.mark.integration


def _healthy(monitor_port: int) -> bool:
    """Full health: in a cluster it also waits for JetStream's meta group to have a leader."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/healthz", timeout=0.5) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[list[str]]:
    """Three nats-servers with JetStream, routed to each other as one cluster named `amp`."""
    root = tmp_path_factory.mktemp("nats-cluster")
    ports = [(free_port(), free_port(), free_port()) for _ in range(3)]  # client, cluster, monitor
    routes = ",".join(f"nats://127.0.0.1:{c}" for _, c, _ in ports)
    procs = []
    for i, (client, route, monitor) in enumerate(ports):
        log = open(root / f"n{i}.log", "ab")
        procs.append(subprocess.Popen(
            [nats_server_binary(), "-n", f"amp-nats-{i}", "-a", "127.0.0.1", "-p", str(client), "-m", str(monitor),
             "-js", "-sd", str(root / f"js{i}"), "--cluster_name", "amp",
             "--cluster", f"nats://127.0.0.1:{route}", "--routes", routes],
            stdout=log, stderr=log, start_new_session=True))
    try:
        deadline = time.monotonic() + 30
        while not all(_healthy(m) for _, _, m in ports):
            assert time.monotonic() < deadline, "the NATS cluster did not become ready"
            time.sleep(0.1)
        yield [f"nats://127.0.0.1:{c}" for c, _, _ in ports]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)


async def _info_with_retry(js, name: str, deadline_s: float = 20.0):
    """The stream's info once its replicas have a leader and their peers (a new group elects first)."""
    deadline = time.monotonic() + deadline_s
    while True:
        info = await js.stream_info(name)
        if info.cluster and info.cluster.leader and len(info.cluster.replicas or []) >= 2 or \
                time.monotonic() > deadline:
            return info
        await asyncio.sleep(0.2)


async def test_three_replicas_on_a_cluster_of_three(cluster: list[str]) -> None:
    nc = await connect(cluster[0], "replicas-test")
    js = nc.jetstream()
    try:
        await ensure_stream(js, "AMPR3", 120.0, replicas=3)
        await ensure_stream(js, "AMPR3", 120.0, replicas=3)  # idempotent
        info = await _info_with_retry(js, "AMPR3")
        assert info.config.num_replicas == 3
        peers = {info.cluster.leader, *(r.name for r in info.cluster.replicas)}
        assert peers == {"amp-nats-0", "amp-nats-1", "amp-nats-2"}
        # as the platform publishes: a new group's first moments may answer "no responders" on a busy machine
        assert await publish(js, "amp.test.replicated", b"x", "one")
        assert (await js.stream_info("AMPR3")).state.messages == 1
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream("AMPR3")  # the platform's subjects belong to one stream at a time
        await nc.close()


async def test_an_existing_single_copy_stream_scales_to_three(cluster: list[str]) -> None:
    from amp_runtime.settings import Settings

    servers = Settings(nats_url=",".join(cluster)).nats_servers  # NATS_URL naming every server
    nc = await connect(servers, "replicas-scale")
    js = nc.jetstream()
    try:
        await ensure_stream(js, "AMPSCALE", 120.0, replicas=1)
        assert (await js.stream_info("AMPSCALE")).config.num_replicas == 1
        await ensure_stream(js, "AMPSCALE", 120.0, replicas=3)
        info = await _info_with_retry(js, "AMPSCALE")
        assert info.config.num_replicas == 3 and len(info.cluster.replicas) == 2
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream("AMPSCALE")
        await nc.close()


async def test_a_single_server_refuses_replicas_with_a_clear_message(tmp_path) -> None:
    server = EmbeddedNats(tmp_path / "single").start()
    nc = await connect(server.url, "replicas-single")
    try:
        with pytest.raises(RuntimeError, match="AMP_STREAM_REPLICAS=3 needs a NATS cluster"):
            await ensure_stream(nc.jetstream(), "AMP", 120.0, replicas=3)
        await ensure_stream(nc.jetstream(), "AMP", 120.0, replicas=1)  # what a single server takes
    finally:
        await nc.close()
        server.stop()


async def test_a_publish_waits_out_a_stream_that_is_not_there_yet(tmp_path) -> None:
    """What a cluster answers during a leader election ("no responders") is sent again with the same
    id: a stream that appears within the retries stores the message once; one that never does fails."""
    server = EmbeddedNats(tmp_path / "late").start()
    nc = await connect(server.url, "late-stream")
    try:
        js = nc.jetstream()
        late = asyncio.create_task(publish(js, "amp.late.one", b"x", "late-1"))
        await asyncio.sleep(0.2)
        assert not late.done()  # still retrying: no stream holds the subject yet
        await ensure_stream(js, "AMPLATE", 120.0)
        assert await late is True
        assert await publish(js, "amp.late.one", b"x", "late-1") is False  # the same id: a duplicate
        assert (await js.stream_info("AMPLATE")).state.messages == 1
        await js.delete_stream("AMPLATE")
        started = time.monotonic()
        with pytest.raises(NoStreamResponseError):
            await publish(js, "amp.late.one", b"x", "late-2")
        assert time.monotonic() - started >= sum(PUBLISH_RETRIES)  # it did wait before giving up
    finally:
        await nc.close()
        server.stop()
