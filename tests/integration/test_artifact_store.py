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
        tags = await s3.get_object_tagging(Bucket="amp-artifacts", Key=key)
        tree = artifact_key("p", 1, "tree.json", b"{}")
        await store.put(tree, b"{}")
        tree_tags = await s3.get_object_tagging(Bucket="amp-artifacts", Key=tree)
    assert head["ServerSideEncryption"] == "AES256"
    # the bucket's lifecycle rule expires zips (rebuilt from the tree bundle) by this tag, not the tree
    assert tags["TagSet"] == [{"Key": "amp-kind", "Value": "zip"}]
    assert tree_tags["TagSet"] == [{"Key": "amp-kind", "Value": "json"}]


async def test_local_store_has_no_url_of_its_own(tmp_path) -> None:
    assert await LocalArtifactStore(tmp_path).download_url("projects/p/ds_1/x-repository.zip", "r.zip", 60) is None


async def test_presigned_url_downloads_the_object_as_named_for_its_ttl(s3_endpoint, tmp_path) -> None:
    from urllib.parse import parse_qs, urlparse

    import aioboto3
    import httpx

    async with aioboto3.Session().client("s3", endpoint_url=s3_endpoint) as s3:
        await s3.create_bucket(Bucket="amp-presign", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    public = s3_endpoint.replace("127.0.0.1", "localhost")  # the name browsers use, not the services'
    store = artifact_store(tmp_path, bucket="amp-presign", endpoint_url=s3_endpoint, public_endpoint_url=public)
    key = artifact_key("p", 2, "repository.zip", b"PK zip")
    await store.put(key, b"PK zip")

    url = await store.download_url(key, 'decision-set-v2.zip', ttl_s=120)
    parts = urlparse(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == public and parts.path == f"/amp-presign/{key}"
    assert query["X-Amz-Expires"] == ["120"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    async with httpx.AsyncClient() as http:
        r = await http.get(url)
        assert r.status_code == 200 and r.content == b"PK zip"
        assert r.headers["content-disposition"] == 'attachment; filename="decision-set-v2.zip"'
    # the server (not this test double) enforces the signature and X-Amz-Expires; ours is to ask for the TTL
    short = parse_qs(urlparse(await store.download_url(key, "r.zip", ttl_s=60.9)).query)
    assert short["X-Amz-Expires"] == ["60"] and short["X-Amz-SignedHeaders"] == ["host"]
