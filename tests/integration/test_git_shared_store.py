"""Git history on the shared stores: objects in Postgres or S3 (moto's server), refs in Postgres.

Two `GitStore`s on two pools stand for two replicas: they share nothing but the servers.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from amp_runtime.artifacts import S3ArtifactStore
from amp_runtime.db import create_pool
from amp_runtime.embedded import free_port
from amp_runtime.gitstore import (
    PostgresObjects,
    RefMoved,
    S3Objects,
    commit_on_head,
    commit_version,
    git_store,
    head,
    history,
    latest_user_tree,
    read_tree,
    record_user_tree,
    unified_diff,
)

pytestmark = pytest.mark.integration

V1 = {"README.md": "# demo\n", "src/app.py": "def f():\n    return 1\n", "scripts/run.sh": "#!/bin/sh\necho\n"}


@pytest.fixture(scope="module")
def s3_bucket():
    """moto's S3 server (a real HTTP endpoint) with one bucket: (endpoint, bucket)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    old = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="eu-west-1")
    endpoint = f"http://127.0.0.1:{port}"
    import boto3  # lazy: comes with aioboto3; a plain client suffices to create the bucket

    boto3.client("s3", endpoint_url=endpoint).create_bucket(
        Bucket="amp-git", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    yield endpoint, "amp-git"
    server.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(params=["postgres", "s3"])
async def replicas(request, migrated):
    """Two stores as two replicas would have them: own pool, own object cache, same servers."""
    pools = [await create_pool(migrated, max_size=4) for _ in range(2)]
    s3 = request.getfixturevalue("s3_bucket") if request.param == "s3" else None
    stores = [git_store(pool, S3ArtifactStore(s3[1], s3[0]) if s3 else None) for pool in pools]
    yield stores
    for pool in pools:
        await pool.close()


async def test_a_version_committed_on_one_replica_is_read_and_diffed_on_the_other(replicas) -> None:
    a, b = replicas
    name = uuid.uuid4().hex
    c1 = await commit_version(a.repo(name), V1, "v1", None, version_key="ds1")
    v2 = V1 | {"src/app.py": "def f():\n    return 2\n"}
    c2 = await commit_version(b.repo(name), v2, "v2", await head(b.repo(name)), version_key="ds2")
    assert await head(a.repo(name)) == c2 and await history(a.repo(name)) == [c2, c1]
    assert await read_tree(a.repo(name), c2) == v2
    diff = await unified_diff(a.repo(name), c1, c2)
    assert "-    return 1\n+    return 2\n" in diff and diff == await unified_diff(b.repo(name), c1, c2)
    # a redelivered persist on the other replica returns the pinned version, adds nothing
    assert await commit_version(a.repo(name), v2, "v2 again", c2, version_key="ds2") == c2
    assert await history(b.repo(name)) == [c2, c1]


async def test_concurrent_writers_on_two_replicas_lose_nothing(replicas) -> None:
    a, b = replicas
    name = uuid.uuid4().hex
    await commit_version(a.repo(name), V1, "v0", None)
    n = 6
    jobs = [commit_on_head((a if i % 2 else b).repo(name), V1 | {f"v{i}.txt": f"{i}\n"}, f"v{i}", version_key=f"ds{i}")
            for i in range(n)]
    commits = await asyncio.gather(*jobs)
    log_a, log_b = await history(a.repo(name)), await history(b.repo(name))
    assert log_a == log_b and len(log_a) == n + 1 and set(commits) <= set(log_a)
    for i, c in enumerate(commits):  # each version kept its own tree, whichever replica committed it
        assert (await read_tree(b.repo(name), c))[f"v{i}.txt"] == f"{i}\n"


async def test_a_stale_parent_is_refused_by_the_shared_ref(replicas) -> None:
    a, b = replicas
    name = uuid.uuid4().hex
    c1 = await commit_version(a.repo(name), V1, "v1", None)
    c2 = await commit_version(b.repo(name), V1 | {"x": "2\n"}, "v2", c1)
    with pytest.raises(RefMoved) as info:
        await commit_version(a.repo(name), V1 | {"x": "other\n"}, "v2 elsewhere", c1)
    assert info.value.actual == c2 and await head(b.repo(name)) == c2


async def test_uploads_race_on_the_shared_user_ref(replicas) -> None:
    a, b = replicas
    name = uuid.uuid4().hex
    base = await commit_version(a.repo(name), V1, "v1", None)

    async def upload(store, i: int) -> str:
        try:
            return await record_user_tree(store.repo(name), {"README.md": f"edit {i}\n"}, base, "ds1", expected=None)
        except RefMoved:
            return "lost"

    outcomes = await asyncio.gather(*(upload(a if i % 2 else b, i) for i in range(4)))
    winners = [o for o in outcomes if o != "lost"]
    assert len(winners) == 1
    latest = await latest_user_tree(b.repo(name))
    assert latest is not None and latest[0] == winners[0] and latest[1] == "ds1"


async def test_objects_live_where_the_store_says(replicas, migrated) -> None:
    a, _ = replicas
    name = uuid.uuid4().hex
    c1 = await commit_version(a.repo(name), V1, "v1", None)
    found = await a.objects.get_many(name, [c1])
    assert list(found) == [c1] and found[c1][0] == 1  # a commit object
    pool = await create_pool(migrated, max_size=1)
    try:
        rows = await pool.fetchval("SELECT count(*) FROM git_objects WHERE repo = $1", name)
    finally:
        await pool.close()
    if isinstance(a.objects, S3Objects):
        assert rows == 0  # with a bucket, Postgres holds the refs only
    else:
        assert isinstance(a.objects, PostgresObjects) and rows == 7


async def test_history_kept_on_disk_by_an_older_version_moves_into_the_shared_store(tmp_path, migrated) -> None:
    import subprocess

    from amp_runtime.bootstrap import import_local_history
    from amp_runtime.settings import Settings

    project = uuid.uuid4().hex
    work = tmp_path / "work"
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    for i, text in enumerate(("one\n", "two\n")):
        (work / "README.md").write_text(text)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-q", "-m", f"v{i + 1}"], check=True)
    data = tmp_path / "data"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(data / "repos" / f"{project}.git")], check=True)
    subprocess.run(["git", "-C", str(data / "repos" / f"{project}.git"), "gc", "-q"], check=True)  # packed objects
    expected = subprocess.run([*git, "rev-list", "main"], capture_output=True, text=True, check=True).stdout.split()

    assert await import_local_history(Settings(database_url=migrated, data_dir=data)) == [project]
    assert not (data / "repos").exists() and (data / "repos.imported" / f"{project}.git").is_dir()
    pool = await create_pool(migrated, max_size=2)
    try:
        repo = git_store(pool).repo(project)
        assert await history(repo) == expected
        assert await read_tree(repo, expected[0]) == {"README.md": "two\n"}
        assert "-one\n+two\n" in await unified_diff(repo, expected[1], expected[0])
    finally:
        await pool.close()
    assert await import_local_history(Settings(database_url=migrated, data_dir=data)) == []  # once only
