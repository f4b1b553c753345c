"""The gateway as deployed at scale: artifacts handed out as presigned S3 URLs after its own checks,
and SSE responses cut at a maximum duration that clients resume without a gap or a duplicate.

A second gateway process, with its own empty data directory, shares the session's NATS and
Postgres (and a local S3 server) with the session's agents.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from amp_cli.client import Client
from amp_cli.sse import SseParser
from amp_runtime import store
from amp_runtime.artifacts import artifact_key
from amp_runtime.db import create_pool
from amp_runtime.embedded import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from flows import FRAUD, waivers_for  # noqa: E402

TEST_USER = "test-user"  # the suite's user (tests/conftest.py)

pytestmark = pytest.mark.integration

BUCKET = "amp-gateway-artifacts"
MAX_STREAM_S = 2.0
AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "eu-west-1"}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=url, region_name="eu-west-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield url
    server.stop()


@pytest.fixture(scope="module")
def gateway_b(stack, s3, tmp_path_factory) -> Iterator[str]:
    """A gateway on S3 with a short maximum stream duration, beside the session's platform."""
    from amp_cli.stack import Stack

    data_dir = tmp_path_factory.mktemp("gateway-b")
    # replicas of an embedded-issuer gateway share its key (one issuer, however many gateways)
    shutil.copytree(stack.settings.data_dir / "secrets", data_dir / "secrets")
    settings = stack.settings.model_copy(update={
        "data_dir": data_dir, "gateway_port": free_port(), "s3_bucket": BUCKET,
        "s3_endpoint_url": s3, "s3_public_endpoint_url": s3.replace("127.0.0.1", "localhost"),
        "sse_max_duration_s": MAX_STREAM_S, "artifact_url_ttl_s": 90.0})
    b = Stack(settings, env=AWS)
    b.start_services(agents=(), gateway=True)
    yield b.gateway_url
    b.stop()


async def _decision_set_with_artifact(database_url: str, key: str | None) -> str:
    """A completed decision set whose artifact key is `key` (what the validators record)."""
    pool = await create_pool(database_url, max_size=1)
    try:
        async with pool.acquire() as conn:
            project = await store.create_project(conn, f"artifact-{uuid.uuid4().hex[:6]}", owner_id=TEST_USER)
            ds = await store.create_decision_set(conn, project["id"], requirements="test", status="completed",
                                                 stage="done", artifact_key=key)
        return str(ds["id"])
    finally:
        await pool.close()


def _put(s3: str, key: str, data: bytes) -> None:
    import boto3

    boto3.client("s3", endpoint_url=s3, region_name="eu-west-1", aws_access_key_id="test",
                 aws_secret_access_key="test").put_object(Bucket=BUCKET, Key=key, Body=data)


async def test_artifact_redirects_to_a_presigned_url_after_the_gateways_checks(gateway_b, s3, settings,
                                                                                auth_headers) -> None:
    data = b"PK\x03\x04 a repository"
    key = artifact_key("p", 1, "repository.zip", data)
    _put(s3, key, data)
    ds = await _decision_set_with_artifact(settings.database_url, key)
    with httpx.Client(base_url=gateway_b, timeout=30, headers=auth_headers) as http:
        r = http.get(f"/decision-sets/{ds}/artifact")
        assert r.status_code == 307, r.text
        assert r.headers["cache-control"] == "no-store"
        location = urlparse(r.headers["location"])
        assert f"{location.scheme}://{location.netloc}" == s3.replace("127.0.0.1", "localhost")
        assert location.path == f"/{BUCKET}/{key}"
        query = parse_qs(location.query)
        assert query["X-Amz-Expires"] == ["90"]
        assert query["response-content-disposition"] == [f'attachment; filename="decision-set-v1-{ds[:8]}.zip"']
        fetched = httpx.get(r.headers["location"].replace("localhost", "127.0.0.1"), timeout=30)
        assert fetched.content == data
    client = Client(gateway_b)
    try:
        assert client.artifact(ds) == data  # the CLI follows the redirect (amp export, amp run --out)
    finally:
        client.close()


async def test_artifact_checks_come_first(gateway_b, settings, auth_headers) -> None:
    gone = await _decision_set_with_artifact(settings.database_url, "projects/x/ds_1/0000-repository.zip")
    none = await _decision_set_with_artifact(settings.database_url, None)
    with httpx.Client(base_url=gateway_b, timeout=30, headers=auth_headers) as http:
        for ds, words in ((gone, "no longer stored"), (none, "no artifact yet"), (str(uuid.uuid4()), "not found")):
            r = http.get(f"/decision-sets/{ds}/artifact")
            assert r.status_code == 404 and "location" not in r.headers
            assert r.json()["error"]["code"] == "not_found" and words in r.json()["error"]["message"]


def _one_response(base: str, ds: str, last: int | None) -> tuple[list[tuple[str, dict, int | None]], list[str], float]:
    """One SSE response, read to its end: its frames, its raw lines, and how long it lasted."""
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {os.environ['AMP_TOKEN']}",
               **({"Last-Event-ID": str(last)} if last is not None else {})}
    frames, lines, parser = [], [], SseParser()
    t0 = time.monotonic()
    with httpx.stream("GET", f"{base}/streams/{ds}", headers=headers, timeout=60) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            lines.append(line)
            frame = parser.feed(line)
            if frame is not None:
                frames.append(frame)
    return frames, lines, time.monotonic() - t0


def test_streams_end_at_their_maximum_duration_and_resume_without_gap_or_duplicate(gateway_b) -> None:
    client = Client(gateway_b, timeout=60)
    try:
        project = client.create_project("sse-max-duration")
        ds = client.submit(project["id"], FRAUD)["decision_set_id"]
        seen: list[tuple[str, dict, int | None]] = []
        last: int | None = None
        cuts = 0
        approved = False
        deadline = time.monotonic() + 240
        while not seen or seen[-1][0] != "run-complete":
            assert time.monotonic() < deadline, f"no run-complete; saw {[e for e, _, _ in seen]}"
            frames, lines, lasted = _one_response(gateway_b, ds, last)
            seen.extend(frames)
            last = next((eid for _, _, eid in reversed(seen) if eid is not None), last)
            if not frames or frames[-1][0] != "run-complete":
                cuts += 1  # ended by the time limit: a retry hint and no event
                assert "retry: 1000" in lines and any(line.startswith(": maximum stream duration") for line in lines)
                assert MAX_STREAM_S - 0.5 <= lasted <= MAX_STREAM_S + 8
            gate = next((d for e, d, _ in seen if e == "gate-waiting" and d.get("gate") == "pre-codegen"), None)
            if gate and not approved:
                policy = client.decision_set(ds)["policy"]
                client.approve(ds, waivers=waivers_for(policy))
                approved = True
        assert cuts >= 1 and approved
        stored = [e["number"] for e in client.all_events(ds)]
        streamed = [eid for _, _, eid in seen]
        assert streamed == stored  # every event once, in order, across all the cut responses
        assert seen[-1][1]["status"] == "completed"
        # a resume after the end has nothing to wait for: 204 (an EventSource stops reconnecting)
        headers = {"Authorization": f"Bearer {os.environ['AMP_TOKEN']}", "Last-Event-ID": str(stored[-1])}
        ended = httpx.get(f"{gateway_b}/streams/{ds}", headers=headers, timeout=10)
        assert ended.status_code == 204 and ended.content == b""
        before_end = httpx.get(f"{gateway_b}/streams/{ds}", headers={**headers, "Last-Event-ID": str(stored[-2])},
                               timeout=10)
        assert before_end.status_code == 200 and "event: run-complete" in before_end.text
    finally:
        client.close()

