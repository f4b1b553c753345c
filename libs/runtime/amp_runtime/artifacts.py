"""The artifact store: content-addressed keys, so a repeated write is harmless.

Keys: `projects/{pid}/ds_{version}/{sha256}-{name}`. A local directory by default; S3 (aioboto3)
when a bucket is configured. On S3, downloads go straight to the bucket through time-boxed
presigned URLs, handed out by the gateway after its own checks.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol


def artifact_key(project_id: str, version: int, name: str, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    return f"projects/{project_id}/ds_{version}/{digest}-{name}"


def object_tags(key: str) -> str:
    """S3 object tags (URL-encoded query form) that lifecycle rules select on.

    Lifecycle filters match a prefix or a tag, never a suffix: zips, which can be rebuilt from the
    tree bundle, carry `amp-kind=zip` so the bucket can expire them after `AMP_ARTIFACT_TTL_DAYS`.
    """
    kind = "zip" if key.endswith(".zip") else "json" if key.endswith(".json") else "other"
    return f"amp-kind={kind}"


def quarantine_key(project_id: str, node: str, data: bytes) -> str:
    return f"quarantine/{project_id}/{node}/{hashlib.sha256(data).hexdigest()}.json"


def _not_found(e: Exception) -> bool:
    """Whether an S3 client error says "no such object" (anything else, e.g. credentials, must surface)."""
    response = getattr(e, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = str(response.get("Error", {}).get("Code", ""))
    return status == 404 or code in ("404", "NoSuchKey", "NotFound")


class ArtifactStore(Protocol):
    async def put(self, key: str, data: bytes) -> str: ...

    async def get(self, key: str) -> bytes: ...

    async def exists(self, key: str) -> bool: ...

    async def download_url(self, key: str, filename: str, ttl_s: float) -> str | None:
        """A URL the client can fetch the object from directly for `ttl_s`, or None (serve the bytes)."""
        ...


class LocalArtifactStore:
    """A directory; writes go through a temp file and a rename, so readers never see half a file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not str(path).startswith(str(self.root.resolve())):
            raise ValueError(f"artifact key escapes the store: {key}")
        return path

    async def put(self, key: str, data: bytes) -> str:
        def write() -> None:
            path = self._path(key)
            if path.exists():
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)

        await asyncio.to_thread(write)
        return key

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)

    async def exists(self, key: str) -> bool:
        return self._path(key).exists()

    async def download_url(self, key: str, filename: str, ttl_s: float) -> str | None:
        return None  # a local directory has no URL of its own: the gateway serves the bytes


class S3ArtifactStore:
    """S3 through aioboto3, server-side encrypted (SSE-S3 unless the bucket enforces KMS)."""

    def __init__(self, bucket: str, endpoint_url: str | None = None, public_endpoint_url: str | None = None) -> None:
        # lazy: needed (and slow to import) only when a bucket is configured
        import aioboto3

        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.public_endpoint_url = public_endpoint_url or endpoint_url
        self._session = aioboto3.Session()

    def _client(self, endpoint_url: str | None = None):
        # lazy: botocore comes with aioboto3, loaded only when a bucket is configured
        from botocore.config import Config

        url = endpoint_url or self.endpoint_url
        # An S3 API other than AWS (MinIO, a test server) is addressed by path: its host names no bucket.
        return self._session.client("s3", endpoint_url=url, config=Config(
            signature_version="s3v4", s3={"addressing_style": "path"} if url else {}))

    async def put(self, key: str, data: bytes) -> str:
        async with self._client() as s3:
            await s3.put_object(Bucket=self.bucket, Key=key, Body=data, ServerSideEncryption="AES256",
                                Tagging=object_tags(key))
        return key

    async def get(self, key: str) -> bytes:
        async with self._client() as s3:
            obj = await s3.get_object(Bucket=self.bucket, Key=key)
            return await obj["Body"].read()

    async def put_many(self, items: dict[str, bytes], concurrency: int = 16) -> None:
        """Several objects over one client, `concurrency` requests at a time (a client costs more than a PUT)."""
        gate = asyncio.Semaphore(concurrency)
        async with self._client() as s3:
            async def one(key: str, data: bytes) -> None:
                async with gate:
                    await s3.put_object(Bucket=self.bucket, Key=key, Body=data, ServerSideEncryption="AES256",
                                        Tagging=object_tags(key))
            await asyncio.gather(*(one(k, v) for k, v in items.items()))

    async def get_many(self, keys: list[str], concurrency: int = 16) -> dict[str, bytes]:
        """The objects that exist among `keys`, over one client; a missing key is simply absent."""
        gate = asyncio.Semaphore(concurrency)
        found: dict[str, bytes] = {}
        async with self._client() as s3:
            async def one(key: str) -> None:
                async with gate:
                    try:
                        obj = await s3.get_object(Bucket=self.bucket, Key=key)
                    except Exception as e:
                        if _not_found(e):
                            return
                        raise
                    found[key] = await obj["Body"].read()
            await asyncio.gather(*(one(k) for k in keys))
        return found

    async def exists(self, key: str) -> bool:
        async with self._client() as s3:
            try:
                await s3.head_object(Bucket=self.bucket, Key=key)
                return True
            except Exception as e:  # only "not there" means False: a credentials or network error must surface
                if _not_found(e):
                    return False
                raise

    async def download_url(self, key: str, filename: str, ttl_s: float) -> str | None:
        """A presigned GET (SigV4, valid `ttl_s`) that makes the browser save the object as `filename`.

        Signed for the endpoint the client will use (`public_endpoint_url`): the host is part of
        the signature. Signing is local: no request reaches S3 here.
        """
        safe = filename.replace('"', "")
        async with self._client(self.public_endpoint_url) as s3:
            return await s3.generate_presigned_url(
                "get_object", ExpiresIn=int(ttl_s),
                Params={"Bucket": self.bucket, "Key": key,
                        "ResponseContentDisposition": f'attachment; filename="{safe}"'})


def artifact_store(artifacts_dir: Path, bucket: str | None = None, endpoint_url: str | None = None,
                   public_endpoint_url: str | None = None) -> ArtifactStore:
    if bucket:
        return S3ArtifactStore(bucket, endpoint_url, public_endpoint_url)
    return LocalArtifactStore(artifacts_dir)
