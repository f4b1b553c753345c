"""A git repository per project on shared storage: each decision-set version is one commit.

No replica keeps history on its own disk. Objects are content-addressed: rows of `git_objects`
in Postgres, or S3 objects (git's loose format) when a bucket is configured. Refs are rows of
`git_refs`, moved by compare-and-set, so of two writers building on the same head one wins and
the other gets `RefMoved` and retries on the new head. Any replica can commit a version, diff
two, or record a user's upload; a process may cache objects (they never change), never refs.

dulwich does the git: `SharedObjectStore` is its object store and `SharedRefsContainer` its refs
container. dulwich is synchronous and our drivers (asyncpg, aioboto3) are not, so the public
functions are coroutines that run the git work in a worker thread, whose storage calls hop back
onto the event loop that owns the pool. Objects a commit adds are buffered and written in one
batch before any ref may point at them.

dulwich 1.2 has no `Repo.do_commit`/`stage`, so commits are built from objects: blobs, a tree
via `dulwich.index.commit_tree`, a `Commit`, then a compare-and-set on the branch ref.

Redelivery is normal (the bus may hand diff_and_persist the same job twice), so committing the
same tree on the same parent again returns the commit that already exists instead of adding a
duplicate: the branch is searched back to `parent` for such a child. With a `version_key`
(e.g. the decision-set id) the commit is also pinned under `refs/versions/<key>`, and a later
call with that key returns the pinned commit whatever parent it passes. The pin is set by
compare-and-set from "absent": a version's first commit is its commit for good, and of two
writers racing on one version the loser takes the winner's commit. (The generated tree is a
function of the version's inputs, so a second writer builds the same tree; a different one is
logged, never committed as a second version.)
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import re
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from amp_contracts import NotFound
from amp_domain.paths import safe_relpath
from dulwich.index import commit_tree
from dulwich.object_store import BaseObjectStore
from dulwich.objects import Blob, Commit, ShaFile, Tree, object_class, sha_to_hex
from dulwich.patch import write_tree_diff
from dulwich.refs import SYMREF, ZERO_SHA, RefsContainer
from dulwich.repo import BaseRepo, Repo

from . import store
from .artifacts import S3ArtifactStore

DEFAULT_AUTHOR = "AMP Platform <platform@amp.invalid>"
DEFAULT_REF = "refs/heads/main"
VERSIONS_PREFIX = "refs/versions/"
_log = logging.getLogger("amp.gitstore")
USER_REF = "refs/heads/user"
FILE_MODE = 0o100644
EXEC_MODE = 0o100755
_MAX_WALK = 10_000
#: How long a storage call from the git thread may wait for the event loop (a stuck database, not a slow one).
_IO_TIMEOUT_S = 120.0
_REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

T = TypeVar("T")


class RefMoved(RuntimeError):
    """The branch no longer points at the parent the caller built on (a concurrent writer won)."""

    def __init__(self, ref: str, expected: str | None, actual: str | None, commit: str) -> None:
        super().__init__(f"{ref} is at {actual}, not at parent {expected}; commit {commit} was not published")
        self.ref, self.expected, self.actual, self.commit = ref, expected, actual, commit


# --- where objects and refs live --------------------------------------------------------------

class ObjectBackend(Protocol):
    """Content-addressed object storage: sha -> (type number, raw content)."""

    async def get_many(self, repo: str, shas: list[str]) -> dict[str, tuple[int, bytes]]: ...

    async def put_many(self, repo: str, objects: dict[str, tuple[int, bytes]]) -> None: ...


class RefBackend(Protocol):
    """Ref storage: every move that depends on the old value is a compare-and-set."""

    async def read(self, repo: str, name: str) -> str | None: ...

    async def names(self, repo: str) -> dict[str, str]: ...

    async def create(self, repo: str, name: str, target: str) -> bool: ...

    async def move(self, repo: str, name: str, old: str, new: str) -> bool: ...

    async def set(self, repo: str, name: str, target: str) -> None: ...


class PostgresObjects:
    """Objects as rows of `git_objects` (the default: no bucket needed)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def get_many(self, repo: str, shas: list[str]) -> dict[str, tuple[int, bytes]]:
        return await store.git_get_objects(self.pool, repo, shas)

    async def put_many(self, repo: str, objects: dict[str, tuple[int, bytes]]) -> None:
        await store.git_put_objects(self.pool, repo, objects)


class PostgresRefs:
    """Refs as rows of `git_refs`, moved by `UPDATE ... WHERE target = old` (atomic in one statement)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def read(self, repo: str, name: str) -> str | None:
        return await store.git_get_ref(self.pool, repo, name)

    async def names(self, repo: str) -> dict[str, str]:
        return await store.git_list_refs(self.pool, repo)

    async def create(self, repo: str, name: str, target: str) -> bool:
        return await store.git_create_ref(self.pool, repo, name, target)

    async def move(self, repo: str, name: str, old: str, new: str) -> bool:
        return await store.git_move_ref(self.pool, repo, name, old, new)

    async def set(self, repo: str, name: str, target: str) -> None:
        await store.git_set_ref(self.pool, repo, name, target)


class S3Objects:
    """Objects in the artifact bucket, in git's loose format (`git/<repo>/objects/ab/cdef...`, zlib).

    One batch of reads or writes shares one S3 client (`put_many`/`get_many`).
    """

    def __init__(self, bucket: S3ArtifactStore) -> None:
        self.bucket = bucket

    @staticmethod
    def key(repo: str, sha: str) -> str:
        return f"git/{repo}/objects/{sha[:2]}/{sha[2:]}"

    async def get_many(self, repo: str, shas: list[str]) -> dict[str, tuple[int, bytes]]:
        found = await self.bucket.get_many([self.key(repo, s) for s in shas])
        out = {}
        for sha in shas:
            data = found.get(self.key(repo, sha))
            if data is not None:
                header, _, raw = zlib.decompress(data).partition(b"\0")
                out[sha] = (object_class(header.split(b" ", 1)[0]).type_num, raw)
        return out

    async def put_many(self, repo: str, objects: dict[str, tuple[int, bytes]]) -> None:
        items = {}
        for sha, (type_num, raw) in objects.items():
            kind = object_class(type_num).type_name
            items[self.key(repo, sha)] = zlib.compress(kind + b" " + str(len(raw)).encode() + b"\0" + raw)
        await self.bucket.put_many(items)


class MemoryObjects:
    """Objects in this process's memory: tests and one-off tools, never a service (nothing is shared)."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], tuple[int, bytes]] = {}

    async def get_many(self, repo: str, shas: list[str]) -> dict[str, tuple[int, bytes]]:
        return {s: self.data[(repo, s)] for s in shas if (repo, s) in self.data}

    async def put_many(self, repo: str, objects: dict[str, tuple[int, bytes]]) -> None:
        for sha, obj in objects.items():
            self.data.setdefault((repo, sha), obj)


class MemoryRefs:
    """Refs in this process's memory (see MemoryObjects). Its methods never await, so each is atomic."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    async def read(self, repo: str, name: str) -> str | None:
        return self.data.get((repo, name))

    async def names(self, repo: str) -> dict[str, str]:
        return {n: t for (r, n), t in self.data.items() if r == repo}

    async def create(self, repo: str, name: str, target: str) -> bool:
        if (repo, name) in self.data:
            return False
        self.data[(repo, name)] = target
        return True

    async def move(self, repo: str, name: str, old: str, new: str) -> bool:
        if self.data.get((repo, name)) != old:
            return False
        self.data[(repo, name)] = new
        return True

    async def set(self, repo: str, name: str, target: str) -> None:
        self.data[(repo, name)] = target


class ObjectCache:
    """Objects this process has read or written, by (repo, sha), up to `max_bytes` (least recent out first).

    Safe to keep anywhere: an object's key is the hash of its content, so an entry never goes stale.
    Thread-safe: several git threads of one process share it.
    """

    def __init__(self, max_bytes: int = 32 << 20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str], tuple[int, bytes]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> tuple[int, bytes] | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple[str, str], item: tuple[int, bytes]) -> None:
        if len(item[1]) > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return
            self._items[key] = item
            self._size += len(item[1])
            while self._size > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._size -= len(old[1])


# --- dulwich's view of the shared storage -----------------------------------------------------

class _Bridge:
    """Runs a coroutine on the event loop that owns the connections, from a git worker thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:  # waiting here for the loop would block it forever
            coro.close()
            raise RuntimeError("git storage was called on the event loop's thread; use the gitstore coroutines")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(_IO_TIMEOUT_S)


def _hex(sha: bytes) -> str:
    return (sha_to_hex(sha) if len(sha) == 20 else sha).decode("ascii")


class SharedObjectStore(BaseObjectStore):
    """A dulwich object store over an ObjectBackend: reads go through the cache, writes wait in a batch.

    `flush` writes the batch; the refs container calls it before moving any ref, so a ref never
    points at an object another replica cannot read.
    """

    def __init__(self, repo: str, backend: ObjectBackend, cache: ObjectCache, bridge: _Bridge) -> None:
        super().__init__()
        self.repo, self.backend, self.cache, self.bridge = repo, backend, cache, bridge
        self._pending: dict[str, tuple[int, bytes]] = {}
        self._read: dict[str, tuple[int, bytes]] = {}  # for this operation, even what is too big to cache

    def _lookup(self, sha: str) -> tuple[int, bytes] | None:
        return self._pending.get(sha) or self._read.get(sha) or self.cache.get((self.repo, sha))

    def prefetch(self, shas: list[str]) -> None:
        """Read the objects not at hand yet in one round trip (a tree's entries, say)."""
        missing = list(dict.fromkeys(s for s in shas if self._lookup(s) is None))
        if missing:
            for sha, item in self.bridge.call(self.backend.get_many(self.repo, missing)).items():
                self._read[sha] = item
                self.cache.put((self.repo, sha), item)

    def contains_loose(self, sha: bytes) -> bool:
        key = _hex(sha)
        self.prefetch([key])
        return self._lookup(key) is not None

    def get_raw(self, name: bytes) -> tuple[int, bytes]:
        key = _hex(name)
        self.prefetch([key])
        item = self._lookup(key)
        if item is None:
            raise KeyError(name)
        return item

    @property
    def packs(self) -> list:
        return []

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError("a shared repository is not listed object by object; walk it from its refs")

    def add_object(self, obj: ShaFile) -> None:
        self._pending.setdefault(obj.id.decode("ascii"), (obj.type_num, obj.as_raw_string()))

    def add_objects(self, objects: Any, progress: Callable[..., None] | None = None) -> None:
        for obj, _path in objects:
            self.add_object(obj)

    def flush(self) -> None:
        # What the cache holds was read from or written to the backend: it is stored already (a
        # new version shares most of its blobs and trees with the last one).
        batch = {sha: item for sha, item in self._pending.items() if self.cache.get((self.repo, sha)) is None}
        self._pending = {}
        if not batch:
            return
        self.bridge.call(self.backend.put_many(self.repo, batch))
        for sha, item in batch.items():
            self.cache.put((self.repo, sha), item)


class SharedRefsContainer(RefsContainer):
    """dulwich refs over a RefBackend. HEAD always names refs/heads/main (what `git clone` checks out)."""

    def __init__(self, repo: str, backend: RefBackend, objects: SharedObjectStore, bridge: _Bridge) -> None:
        super().__init__()
        self.repo, self.backend, self.objects, self.bridge = repo, backend, objects, bridge

    def allkeys(self) -> set[bytes]:
        return {b"HEAD", *(n.encode() for n in self.bridge.call(self.backend.names(self.repo)))}

    def read_loose_ref(self, name: bytes) -> bytes | None:
        if name == b"HEAD":
            return SYMREF + DEFAULT_REF.encode()
        target = self.bridge.call(self.backend.read(self.repo, name.decode()))
        return target.encode() if target else None

    def get_packed_refs(self) -> dict[bytes, bytes]:
        return {}

    def get_peeled(self, name: bytes) -> bytes | None:
        return None

    def set_symbolic_ref(self, name: bytes, other: bytes, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("a shared repository's only symbolic ref is HEAD -> refs/heads/main")

    def _real(self, name: bytes) -> str:
        self._check_refname(name)
        return DEFAULT_REF if name == b"HEAD" else name.decode()

    def set_if_equals(self, name: bytes, old_ref: bytes | None, new_ref: bytes, *args: Any, **kwargs: Any) -> bool:
        """Compare-and-set (`old_ref` None sets unconditionally, ZERO_SHA means "must not exist yet")."""
        self._check_ref_value(new_ref)
        real = self._real(name)
        self.objects.flush()
        if old_ref is None:
            self.bridge.call(self.backend.set(self.repo, real, new_ref.decode()))
            return True
        if old_ref == ZERO_SHA:
            return self.bridge.call(self.backend.create(self.repo, real, new_ref.decode()))
        return self.bridge.call(self.backend.move(self.repo, real, old_ref.decode(), new_ref.decode()))

    def add_if_new(self, name: bytes, ref: bytes, *args: Any, **kwargs: Any) -> bool:
        self._check_ref_value(ref)
        real = self._real(name)
        self.objects.flush()
        return self.bridge.call(self.backend.create(self.repo, real, ref.decode()))

    def remove_if_equals(self, name: bytes, old_ref: bytes | None, *args: Any, **kwargs: Any) -> bool:
        raise NotImplementedError("history is kept: refs of a shared repository are never deleted")


class SharedRepo(BaseRepo):
    """A dulwich repository whose objects and refs are the shared ones (built per call, in the git thread)."""

    def __init__(self, handle: Repository, bridge: _Bridge) -> None:
        objects = SharedObjectStore(handle.name, handle.objects, handle.cache, bridge)
        super().__init__(objects, SharedRefsContainer(handle.name, handle.refs, objects, bridge))

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Repository:
    """A handle on one project's repository: cheap, holds no connection, usable from any coroutine."""

    name: str
    objects: ObjectBackend
    refs: RefBackend
    cache: ObjectCache = field(default_factory=ObjectCache)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(SharedRepo, *args)` in a worker thread (dulwich is synchronous) against this loop's storage."""
        bridge = _Bridge(asyncio.get_running_loop())
        return await asyncio.to_thread(lambda: fn(SharedRepo(self, bridge), *args, **kwargs))


class GitStore:
    """Every project's repository on one pair of backends; `repo(project_id)` hands out handles."""

    def __init__(self, objects: ObjectBackend, refs: RefBackend, cache: ObjectCache | None = None) -> None:
        self.objects, self.refs = objects, refs
        self.cache = cache or ObjectCache()

    def repo(self, name: str) -> Repository:
        if not _REPO_NAME.match(name):
            raise ValueError(f"not a repository name: {name!r}")
        return Repository(name, self.objects, self.refs, self.cache)


def git_store(pool: Any, bucket: S3ArtifactStore | None = None) -> GitStore:
    """Refs in Postgres; objects in the S3 bucket when one is configured, else in Postgres too."""
    objects: ObjectBackend = S3Objects(bucket) if bucket is not None else PostgresObjects(pool)
    return GitStore(objects, PostgresRefs(pool))


def memory_git_store() -> GitStore:
    """A store in this process's memory (tests, one-off tools): the same code path, nothing shared."""
    return GitStore(MemoryObjects(), MemoryRefs())


# --- the operations (synchronous, on a dulwich repository, inside Repository.run) ------------

def _mode_for(path: str, text: str) -> int:
    return EXEC_MODE if text.startswith("#!") or path.endswith(".sh") else FILE_MODE


def build_tree(repo: BaseRepo, files: dict[str, str]) -> bytes:
    """Store the blobs and trees for `files` and return the root tree id (same files, same id)."""
    entries = []
    for path in sorted(files):
        text = files[path]
        blob = Blob.from_string(text.encode("utf-8"))
        repo.object_store.add_object(blob)
        entries.append((str(safe_relpath(path)).encode("utf-8"), blob.id, _mode_for(path, text)))
    if not entries:
        empty = Tree()
        repo.object_store.add_object(empty)
        return empty.id
    return commit_tree(repo.object_store, entries)


def _ref_target(repo: BaseRepo, ref: bytes) -> bytes | None:
    try:
        return repo.refs[ref]
    except KeyError:
        return None


def _find_existing(repo: BaseRepo, tip: bytes | None, tree_id: bytes, parents: list[bytes]) -> bytes | None:
    """A commit on the branch, newer than the parent, with this tree and exactly these parents."""
    seen = 0
    current = tip
    stop = parents[0] if parents else None
    while current is not None and seen < _MAX_WALK:
        if current == stop:
            return None
        commit = repo[current]
        if commit.tree == tree_id and list(commit.parents) == parents:
            return current
        current = commit.parents[0] if commit.parents else None
        seen += 1
    return None


def _commit_version(repo: BaseRepo, files: dict[str, str], message: str, parent: str | None, ref: str,
                    author: str, version_key: str | None) -> str:
    ref_b = ref.encode()
    key_ref = f"{VERSIONS_PREFIX}{version_key}".encode() if version_key else None
    tree_id = build_tree(repo, files)
    parents = [parent.encode("ascii")] if parent else []
    # The pin names the version: once set, that commit is the version's, even when a redelivered
    # job passes the branch head (now that very commit) as `parent`.
    pinned = _ref_target(repo, key_ref) if key_ref is not None else None
    if pinned is not None:
        return _pinned(repo, version_key, pinned, tree_id)
    tip = _ref_target(repo, ref_b)
    existing = _find_existing(repo, tip, tree_id, parents)
    if existing is None:
        commit = Commit()
        commit.tree = tree_id
        commit.parents = parents
        commit.author = commit.committer = author.encode("utf-8")
        commit.author_time = commit.commit_time = int(time.time())
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode("utf-8") if message.endswith("\n") else (message + "\n").encode("utf-8")
        repo.object_store.add_object(commit)
        new_id = commit.id
        old = parents[0] if parents else None
        published = (repo.refs.set_if_equals(ref_b, old, new_id, message=b"amp: commit_version") if old
                     else repo.refs.add_if_new(ref_b, new_id, message=b"amp: commit_version"))
        if not published:
            # Lost a race: maybe the winner committed this very tree (a redelivery in parallel).
            tip = _ref_target(repo, ref_b)
            existing = _find_existing(repo, tip, tree_id, parents)
            if existing is None:
                raise RefMoved(ref, parent, tip.decode() if tip else None, new_id.decode())
        else:
            existing = new_id
    if key_ref is not None and not repo.refs.add_if_new(key_ref, existing, message=b"amp: version pin"):
        return _pinned(repo, version_key, _ref_target(repo, key_ref), tree_id)  # another writer pinned first
    return existing.decode()


def _pinned(repo: BaseRepo, version_key: str | None, pinned: bytes, tree_id: bytes) -> str:
    if repo[pinned].tree != tree_id:
        _log.warning("version %s is pinned to %s with another tree; the pinned commit stands", version_key,
                     pinned.decode())
    return pinned.decode()


def _prefetch_tree(repo: BaseRepo, tree_id: bytes | None) -> None:
    """Read a whole tree level by level: one round trip per directory depth, not one per object."""
    objects = repo.object_store
    if tree_id is None or not isinstance(objects, SharedObjectStore):
        return
    objects.prefetch([_hex(tree_id)])
    level = [tree_id]
    while level:
        entries = [e for t in level for e in repo[t].items() if e.mode & 0o170000 != 0o160000]  # no submodules
        objects.prefetch([_hex(e.sha) for e in entries])
        level = [e.sha for e in entries if e.mode & 0o170000 == 0o040000]


def _read_tree(repo: BaseRepo, commit: str) -> dict[str, str]:
    tree_id = repo[commit.encode("ascii")].tree
    _prefetch_tree(repo, tree_id)
    return {entry.path.decode("utf-8"): repo[entry.sha].data.decode("utf-8", errors="replace")
            for entry in repo.object_store.iter_tree_contents(tree_id)}


def _unified_diff(repo: BaseRepo, old_commit: str | None, new_commit: str) -> str:
    old_tree = repo[old_commit.encode("ascii")].tree if old_commit else None
    new_tree = repo[new_commit.encode("ascii")].tree
    _prefetch_tree(repo, old_tree)
    _prefetch_tree(repo, new_tree)
    buf = io.BytesIO()
    write_tree_diff(buf, repo.object_store, old_tree, new_tree)
    return buf.getvalue().decode("utf-8", errors="replace")


def _head(repo: BaseRepo, ref: str) -> str | None:
    target = _ref_target(repo, ref.encode())
    return target.decode() if target else None


_UNSET = object()


def _record_user_tree(repo: BaseRepo, files: dict[str, str], base_commit: str, base_decision_set_id: str,
                      author: str, expected: str | None | object) -> str:
    commit = Commit()
    commit.tree = build_tree(repo, files)
    commit.parents = [base_commit.encode("ascii")]
    commit.author = commit.committer = author.encode("utf-8")
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = (json.dumps({"user_edits": True, "base_decision_set_id": base_decision_set_id}) + "\n").encode()
    repo.object_store.add_object(commit)
    ref = USER_REF.encode()
    if expected is _UNSET:
        repo.refs.set_if_equals(ref, None, commit.id, message=b"amp: user upload")
    else:
        old = expected.encode("ascii") if isinstance(expected, str) else None
        moved = (repo.refs.set_if_equals(ref, old, commit.id, message=b"amp: user upload") if old
                 else repo.refs.add_if_new(ref, commit.id, message=b"amp: user upload"))
        if not moved:
            actual = _ref_target(repo, ref)
            raise RefMoved(USER_REF, expected if isinstance(expected, str) else None,
                           actual.decode() if actual else None, commit.id.decode())
    return commit.id.decode()


def _latest_user_tree(repo: BaseRepo) -> tuple[str, str, dict[str, str]] | None:
    target = _ref_target(repo, USER_REF.encode())
    if target is None:
        return None
    meta = json.loads(repo[target].message.decode() or "{}")
    return target.decode(), meta["base_decision_set_id"], _read_tree(repo, target.decode())


def _history(repo: BaseRepo, ref: str) -> list[str]:
    out: list[str] = []
    current = _ref_target(repo, ref.encode())
    while current is not None and len(out) < _MAX_WALK:
        out.append(current.decode())
        parents = repo[current].parents
        current = parents[0] if parents else None
    return out


# --- the public operations --------------------------------------------------------------------

async def commit_version(repo: Repository, files: dict[str, str], message: str, parent: str | None,
                   ref: str = DEFAULT_REF, author: str = DEFAULT_AUTHOR,
                   version_key: str | None = None) -> str:
    """Commit `files` as a child of `parent` on `ref` and return the commit id (hex).

    Idempotent: the same tree on the same parent returns the existing commit. Raises RefMoved
    if `ref` has moved past `parent` to something else (the commit object stays unpublished).
    """
    return await repo.run(_commit_version, files, message, parent, ref, author, version_key)


async def commit_on_head(repo: Repository, files: dict[str, str], message: str, version_key: str,
                         attempts: int = 20) -> str:
    """Commit on whatever the branch head is now; when another writer moves it first, build on the new head.

    Versions of one project may be persisted by different replicas at once: the ref's
    compare-and-set lets one win, and the loser retries on top of it, so no version is lost.
    """
    for attempt in range(attempts):
        try:
            return await commit_version(repo, files, message, await head(repo), version_key=version_key)
        except RefMoved:
            await asyncio.sleep(random.uniform(0, 0.05 * (attempt + 1)))  # racing writers spread out
    raise RuntimeError(f"the repository {repo.name} kept moving: {attempts} commits raced this one")


async def read_tree(repo: Repository, commit: str) -> dict[str, str]:
    """The files of a commit as path -> text (what `commit_version` stored)."""
    return await repo.run(_read_tree, commit)


async def unified_diff(repo: Repository, old_commit: str | None, new_commit: str) -> str:
    """`git diff old new` as text; with no old commit, the whole new tree shows as added.

    A commit the store does not hold is NotFound (a 404 at the gateway), not a server error.
    """
    try:
        return await repo.run(_unified_diff, old_commit, new_commit)
    except KeyError as e:
        missing = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise NotFound(f"the repository of {repo.name} holds no object {missing}") from None


async def head(repo: Repository, ref: str = DEFAULT_REF) -> str | None:
    """Where `ref` points now, or None before the first commit."""
    return await repo.run(_head, ref)


async def history(repo: Repository, ref: str = DEFAULT_REF) -> list[str]:
    """The commits of `ref`, newest first, along first parents (`git rev-list --first-parent`)."""
    return await repo.run(_history, ref)


async def user_tree_head(repo: Repository) -> str | None:
    """Where the user-tree ref points now (None before the first upload)."""
    return await repo.run(_head, USER_REF)


async def record_user_tree(repo: Repository, files: dict[str, str], base_commit: str, base_decision_set_id: str,
                     author: str = DEFAULT_AUTHOR, expected: str | None | object = _UNSET) -> str:
    """Store a user's edited repository as a commit whose parent is the version they edited.

    `refs/heads/user` always points at the latest upload; its message names the base decision
    set, so a later regeneration knows what the user started from (the merge base). With
    `expected` (the user ref the caller saw, None for "no upload yet") the ref moves by
    compare-and-set: if another upload got there first, RefMoved is raised and nothing changes.
    """
    return await repo.run(_record_user_tree, files, base_commit, base_decision_set_id, author, expected)


async def latest_user_tree(repo: Repository) -> tuple[str, str, dict[str, str]] | None:
    """(user commit, base decision set id, files) of the latest upload, or None."""
    return await repo.run(_latest_user_tree)


# --- history from before the shared stores ----------------------------------------------------

def _disk_repository(path: str) -> tuple[dict[str, tuple[int, bytes]], dict[str, str]]:
    """Every object and ref of a bare repository on disk (the layout before the shared stores)."""
    disk = Repo(path)
    try:
        objects = {sha.decode("ascii"): disk.object_store.get_raw(sha) for sha in disk.object_store}
        refs = {name.decode(): target.decode("ascii") for name, target in disk.refs.as_dict().items()
                if name.startswith(b"refs/")}
    finally:
        disk.close()
    return objects, refs


async def import_disk_repository(path: str, repo: Repository, batch: int = 500) -> int:
    """Copy a bare repository on disk into the shared store; returns the objects copied.

    Safe to run twice: objects are content-addressed, and a ref the shared store has already
    (a version committed since) is kept rather than moved back.
    """
    objects, refs = await asyncio.to_thread(_disk_repository, path)
    shas = list(objects)
    for i in range(0, len(shas), batch):
        await repo.objects.put_many(repo.name, {s: objects[s] for s in shas[i:i + batch]})
    for name, target in refs.items():
        await repo.refs.create(repo.name, name, target)
    return len(objects)
