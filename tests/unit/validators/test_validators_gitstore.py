"""The per-project repository: idempotent commits, tree reads, unified diffs, CAS on refs.

These run the dulwich object store and refs container over in-memory backends (the same code
as over Postgres and S3; tests/integration/test_git_shared_store.py runs it on those).
"""

from __future__ import annotations

import asyncio
import subprocess
import zlib
from pathlib import Path

import pytest
from amp_runtime.gitstore import (
    RefMoved,
    Repository,
    commit_on_head,
    commit_version,
    head,
    history,
    latest_user_tree,
    memory_git_store,
    read_tree,
    record_user_tree,
    unified_diff,
    user_tree_head,
)

V1 = {"README.md": "# demo\n", "services/app.py": "def f():\n    return 1\n", "scripts/run.sh": "#!/bin/sh\necho\n"}
V2 = V1 | {"services/app.py": "def f():\n    return 2\n", "docs/plan.md": "# plan\n"}


@pytest.fixture()
def repo() -> Repository:
    return memory_git_store().repo("p")


async def test_a_new_repository_has_no_head_and_head_names_main(repo: Repository) -> None:
    assert await head(repo) is None and await history(repo) == []
    c1 = await commit_version(repo, V1, "v1", None)
    assert await head(repo, "HEAD") == c1  # HEAD is refs/heads/main, what `git clone` checks out


async def test_same_tree_same_parent_returns_the_existing_commit(repo: Repository) -> None:
    c1 = await commit_version(repo, V1, "v1", None)
    assert await commit_version(repo, V1, "v1 redelivered", None) == c1
    c2 = await commit_version(repo, V2, "v2", c1)
    assert await commit_version(repo, V2, "v2 redelivered", c1) == c2
    assert await head(repo) == c2
    assert await history(repo) == [c2, c1]


async def test_version_key_pins_the_commit(repo: Repository) -> None:
    c1 = await commit_version(repo, V1, "v1", None, version_key="ds_1")
    assert await commit_version(repo, V1, "again", None, version_key="ds_1") == c1
    assert await head(repo, "refs/versions/ds_1") == c1


async def test_a_pinned_version_is_final_whatever_tree_a_later_call_builds(repo: Repository) -> None:
    c1 = await commit_version(repo, V1, "v1", None, version_key="ds_1")
    assert await commit_on_head(repo, V2, "v1 built again, differently", version_key="ds_1") == c1
    assert await head(repo) == c1 and await history(repo) == [c1]
    assert await head(repo, "refs/versions/ds_1") == c1


async def test_two_writers_of_one_version_end_on_one_pinned_commit(repo: Repository) -> None:
    base = await commit_version(repo, {"x": "0\n"}, "v0", None)
    got = await asyncio.gather(*(commit_on_head(repo, V1 | {"n": f"{i}\n"}, f"try {i}", version_key="ds_1")
                                 for i in range(3)))
    assert len(set(got)) == 1 and await head(repo, "refs/versions/ds_1") == got[0]
    assert base in await history(repo)


async def test_redelivery_that_passes_the_new_head_as_parent_is_still_idempotent(repo: Repository) -> None:
    c1 = await commit_version(repo, V1, "v1", None, version_key="ds_1")
    c2 = await commit_version(repo, V2, "v2", await head(repo), version_key="ds_2")
    assert await commit_version(repo, V2, "v2 redelivered", await head(repo), version_key="ds_2") == c2
    assert await head(repo) == c2 and c1 != c2


async def test_read_tree_round_trips(repo: Repository) -> None:
    c1 = await commit_version(repo, V1, "v1", None)
    assert await read_tree(repo, c1) == V1


async def test_unified_diff_shows_the_change(repo: Repository) -> None:
    c1 = await commit_version(repo, V1, "v1", None)
    c2 = await commit_version(repo, V2, "v2", c1)
    diff = await unified_diff(repo, c1, c2)
    assert "--- a/services/app.py\n+++ b/services/app.py" in diff
    assert "-    return 1\n+    return 2\n" in diff
    assert "+++ b/docs/plan.md" in diff and "README.md" not in diff
    first = await unified_diff(repo, None, c1)
    assert "new file mode 100755" in first  # the shebang script is executable
    assert first.count("new file mode") == 3


async def test_stale_parent_is_refused(repo: Repository) -> None:
    c1 = await commit_version(repo, V1, "v1", None)
    c2 = await commit_version(repo, V2, "v2", c1)
    with pytest.raises(RefMoved) as info:
        await commit_version(repo, V1 | {"x.txt": "other\n"}, "concurrent v2", c1)
    assert info.value.actual == c2 and info.value.expected == c1
    assert await head(repo) == c2


async def test_paths_outside_the_tree_are_refused(repo: Repository) -> None:
    with pytest.raises(ValueError):
        await commit_version(repo, {"../escape": "x"}, "bad", None)


async def test_repositories_are_apart_and_names_are_checked() -> None:
    git = memory_git_store()
    c1 = await commit_version(git.repo("a"), V1, "v1", None)
    assert await head(git.repo("b")) is None
    with pytest.raises(KeyError):  # b has no object of a's
        await read_tree(git.repo("b"), c1)
    for bad in ("../a", "a/b", "", "x" * 200):
        with pytest.raises(ValueError):
            git.repo(bad)


async def test_a_commit_is_not_published_until_its_objects_are_stored() -> None:
    git = memory_git_store()
    repo = git.repo("p")
    c1 = await commit_version(repo, V1, "v1", None)
    # every object reachable from the ref is in the shared backend, not only in this process's cache
    stored = {sha for (name, sha) in git.objects.data if name == "p"}  # type: ignore[attr-defined]
    assert c1 in stored and len(stored) == 1 + 1 + 3 + 2  # commit, root tree, 3 blobs, 2 subtrees


async def test_concurrent_commits_all_land_one_after_another(repo: Repository) -> None:
    c0 = await commit_version(repo, V1, "v0", None)
    trees = [V1 | {f"v{i}.txt": f"{i}\n"} for i in range(8)]
    commits = await asyncio.gather(*(commit_on_head(repo, t, f"v{i}", version_key=f"ds_{i}")
                                     for i, t in enumerate(trees)))
    log = await history(repo)
    assert len(set(commits)) == 8 and set(commits) <= set(log)
    assert log[-1] == c0 and len(log) == 9  # a line: every writer that lost retried on the new head


async def test_user_uploads_move_their_ref_by_compare_and_set(repo: Repository) -> None:
    base = await commit_version(repo, {"a.txt": "a\n"}, "v1", None)
    first = await record_user_tree(repo, {"a.txt": "one\n"}, base, "ds1", expected=None)
    assert await user_tree_head(repo) == first
    with pytest.raises(RefMoved):  # edits based on "no upload yet" lose to the upload that exists
        await record_user_tree(repo, {"a.txt": "stale\n"}, base, "ds1", expected=None)
    assert await user_tree_head(repo) == first

    async def race(i: int) -> str:
        try:
            return await record_user_tree(repo, {"a.txt": f"{i}\n"}, base, "ds1", expected=first)
        except RefMoved:
            return "lost"

    outcomes = await asyncio.gather(*(race(i) for i in range(6)))
    winners = [o for o in outcomes if o != "lost"]
    assert len(winners) == 1 and await user_tree_head(repo) == winners[0]
    latest = await latest_user_tree(repo)
    assert latest is not None and latest[0] == winners[0] and latest[1] == "ds1"
    assert latest[2] == {"a.txt": f"{outcomes.index(winners[0])}\n"}


async def test_stored_objects_are_real_git(tmp_path: Path) -> None:
    """Written out in git's loose format, the objects pass `git fsck` and `git log` reads the history."""
    git = memory_git_store()
    repo = git.repo("p")
    c1 = await commit_version(repo, V1, "v1", None)
    c2 = await commit_version(repo, V2, "v2", c1)
    bare = tmp_path / "p.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    for (_, sha), (type_num, raw) in git.objects.data.items():  # type: ignore[attr-defined]
        kind = {1: b"commit", 2: b"tree", 3: b"blob"}[type_num]
        path = bare / "objects" / sha[:2] / sha[2:]
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(zlib.compress(kind + b" " + str(len(raw)).encode() + b"\0" + raw))
    (bare / "refs" / "heads" / "main").write_text(c2 + "\n")
    subprocess.run(["git", "-C", str(bare), "fsck", "--strict"], check=True, capture_output=True)
    log = subprocess.run(["git", "-C", str(bare), "rev-list", "main"], capture_output=True, text=True, check=True)
    assert log.stdout.split() == [c2, c1]


async def test_a_new_version_writes_only_the_objects_it_adds() -> None:
    class Counting:
        def __init__(self, inner) -> None:
            self.inner, self.written = inner, []

        async def get_many(self, repo, shas):
            return await self.inner.get_many(repo, shas)

        async def put_many(self, repo, objects):
            self.written.append(set(objects))
            await self.inner.put_many(repo, objects)

    git = memory_git_store()
    git.objects = counting = Counting(git.objects)
    repo = git.repo("p")
    c1 = await commit_version(repo, V1, "v1", None)
    c2 = await commit_version(repo, V1 | {"README.md": "# changed\n"}, "v2", c1)
    # v2: its commit, its root tree and the changed blob; the unchanged subtrees and blobs are not sent again
    assert len(counting.written[0]) == 7 and len(counting.written[1]) == 3 and c2 in counting.written[1]
    assert await read_tree(repo, c2) == V1 | {"README.md": "# changed\n"}


async def test_files_too_big_for_the_object_cache_still_read_back() -> None:
    from amp_runtime.gitstore import GitStore, MemoryObjects, MemoryRefs, ObjectCache

    repo = GitStore(MemoryObjects(), MemoryRefs(), ObjectCache(max_bytes=64)).repo("p")
    big = {"data.csv": "x," * 1000 + "\n", "README.md": "# r\n"}
    c1 = await commit_version(repo, big, "v1", None)
    assert await read_tree(repo, c1) == big
    assert "+x,x," in await unified_diff(repo, None, c1)


async def test_a_diff_of_a_commit_not_stored_is_not_found(repo: Repository) -> None:
    from amp_contracts import NotFound

    c1 = await commit_version(repo, V1, "v1", None)
    with pytest.raises(NotFound):
        await unified_diff(repo, "0" * 40, c1)
