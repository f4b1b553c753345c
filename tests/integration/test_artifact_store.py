"""The artifact store: content-addressed keys on a local directory, and on S3 through aioboto3
(against a local S3 endpoint: no bucket is configured on this machine)."""

from __future__ import annotations

import os

import pytest
from amp_runtime.artifacts import LocalArtifactStore, S3ArtifactStore, artifact_key, artifact_store
from amp_runtime.embedded import free_port

pytestmark = pytest.mark.integration


def test_keys_are_content_addressed() -> None:
    a = artifact_key("p", 3, "repository.zip", b"same")
    assert a == artifact_key("p", 3, "repository.zip", b"same") and a.startswith("projects/p/ds_3/")
    assert a != artifact_key("p", 3, "repository.zip", b"other")


async def test_local_store_writes_once_and_refuses_escapes(tmp_path) -> None:
    store = LocalArtifactStore(tmp_path)
    key = artifact_key("p", 1, "tree.json", b"{}")
    assert await store.put(key, b"{}") == key
    assert await store.put(key, b"{}") == key  # a repeat is harmless
    assert await store.get(key) == b"{}" and await store.exists(key)
    with pytest.raises(ValueError):
        await store.put("../../etc/passwd", b"x")


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    old = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="eu-west-1")
    yield f"http://127.0.0.1:{port}"
    server.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


async def test_s3_store_round_trip_with_server_side_encryption(s3_endpoint, tmp_path) -> None:
    import aioboto3

    session = aioboto3.Session()
    async with session.client("s3", endpoint_url=s3_endpoint) as s3:
        await s3.create_bucket(Bucket="amp-artifacts",
                               CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    store = artifact_store(tmp_path, bucket="amp-artifacts", endpoint_url=s3_endpoint)
    assert isinstance(store, S3ArtifactStore)
    key = artifact_key("p", 1, "repository.zip", b"zip bytes")
    assert not await store.exists(key)
    await store.put(key, b"zip bytes")
    assert await store.exists(key) and await store.get(key) == b"zip bytes"
    async with session.client("s3", endpoint_url=s3_endpoint) as s3:
        head = await s3.head_object(Bucket="amp-artifacts", Key=key)
    assert head["ServerSideEncryption"] == "AES256"
