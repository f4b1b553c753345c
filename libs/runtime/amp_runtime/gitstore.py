"""A server-side bare git repository per project: each decision-set version is one commit.

dulwich 1.2 has no `Repo.do_commit`/`stage`, so commits are built from objects: blobs, a tree
via `dulwich.index.commit_tree`, a `Commit`, then a compare-and-set on the branch ref
(`set_if_equals`), which is atomic across processes (dulwich takes git's `.lock` file).

Redelivery is normal (the bus may hand diff_and_persist the same job twice), so committing the
same tree on the same parent again returns the commit that already exists instead of adding a
duplicate: the branch is searched back to `parent` for such a child. With a `version_key`
(e.g. the decision-set id) the commit is also pinned under `refs/versions/<key>`, and a later
call with that key and the same tree returns the pinned commit whatever parent it passes.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

from amp_domain.paths import safe_relpath
from dulwich.file import FileLocked
from dulwich.index import commit_tree
from dulwich.objects import Blob, Commit, Tree
from dulwich.patch import write_tree_diff
from dulwich.repo import Repo

DEFAULT_AUTHOR = "AMP Platform <platform@amp.invalid>"
DEFAULT_REF = "refs/heads/main"
VERSIONS_PREFIX = "refs/versions/"
FILE_MODE = 0o100644
EXEC_MODE = 0o100755
_MAX_WALK = 10_000


class RefMoved(RuntimeError):
    """The branch no longer points at the parent the caller built on (a concurrent writer won)."""

    def __init__(self, ref: str, expected: str | None, actual: str | None, commit: str) -> None:
        super().__init__(f"{ref} is at {actual}, not at parent {expected}; commit {commit} was not published")
        self.ref, self.expected, self.actual, self.commit = ref, expected, actual, commit


def open_or_init(path: str | Path) -> Repo:
    """Open the project's bare repository, creating it (and its directory) on first use."""
    p = Path(path)
    if (p / "HEAD").exists() or (p / ".git").exists():
        return Repo(str(p))
    p.mkdir(parents=True, exist_ok=True)
    repo = Repo.init_bare(str(p))
    repo.refs.set_symbolic_ref(b"HEAD", DEFAULT_REF.encode())  # `git clone` checks out main
    return repo


def _mode_for(path: str, text: str) -> int:
    return EXEC_MODE if text.startswith("#!") or path.endswith(".sh") else FILE_MODE


def build_tree(repo: Repo, files: dict[str, str]) -> bytes:
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


def _ref_target(repo: Repo, ref: bytes) -> bytes | None:
    try:
        return repo.refs[ref]
    except KeyError:
        return None


def _find_existing(repo: Repo, tip: bytes | None, tree_id: bytes, parents: list[bytes]) -> bytes | None:
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


def commit_version(repo_path: str | Path, files: dict[str, str], message: str, parent: str | None,
                   ref: str = DEFAULT_REF, author: str = DEFAULT_AUTHOR, version_key: str | None = None) -> str:
    """Commit `files` as a child of `parent` on `ref` and return the commit id (hex).

    Idempotent: the same tree on the same parent returns the existing commit. Raises RefMoved
    if `ref` has moved past `parent` to something else (the commit object stays unpublished).
    """
    repo = open_or_init(repo_path)
    try:
        ref_b = ref.encode()
        key_ref = f"{VERSIONS_PREFIX}{version_key}".encode() if version_key else None
        tree_id = build_tree(repo, files)
        parents = [parent.encode("ascii")] if parent else []
        # The pin names the version: the same tree under the same key is the same version, even
        # when a redelivered job passes the branch head (now that very commit) as `parent`.
        pinned = _ref_target(repo, key_ref) if key_ref is not None else None
        if pinned is not None and repo[pinned].tree == tree_id:
            return pinned.decode()
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
        if key_ref is not None:
            repo.refs.set_if_equals(key_ref, None, existing, message=b"amp: version pin")
        return existing.decode()
    finally:
        repo.close()


def read_tree(repo_path: str | Path, commit: str) -> dict[str, str]:
    """The files of a commit as path -> text (what `commit_version` stored)."""
    repo = Repo(str(repo_path))
    try:
        tree_id = repo[commit.encode("ascii")].tree
        return {entry.path.decode("utf-8"): repo[entry.sha].data.decode("utf-8", errors="replace")
                for entry in repo.object_store.iter_tree_contents(tree_id)}
    finally:
        repo.close()


def unified_diff(repo_path: str | Path, old_commit: str | None, new_commit: str) -> str:
    """`git diff old new` as text; with no old commit, the whole new tree shows as added."""
    repo = Repo(str(repo_path))
    try:
        old_tree = repo[old_commit.encode("ascii")].tree if old_commit else None
        new_tree = repo[new_commit.encode("ascii")].tree
        buf = io.BytesIO()
        write_tree_diff(buf, repo.object_store, old_tree, new_tree)
        return buf.getvalue().decode("utf-8", errors="replace")
    finally:
        repo.close()


def head(repo_path: str | Path, ref: str = DEFAULT_REF) -> str | None:
    """Where `ref` points now, or None before the first commit."""
    repo = open_or_init(repo_path)
    try:
        target = _ref_target(repo, ref.encode())
        return target.decode() if target else None
    finally:
        repo.close()


USER_REF = "refs/heads/user"


_UNSET = object()


def user_tree_head(repo_path: str | Path) -> str | None:
    """Where the user-tree ref points now (None before the first upload)."""
    if not Path(repo_path).exists():
        return None
    repo = open_or_init(repo_path)
    try:
        target = _ref_target(repo, USER_REF.encode())
        return target.decode() if target else None
    finally:
        repo.close()


def record_user_tree(repo_path: str | Path, files: dict[str, str], base_commit: str, base_decision_set_id: str,
                     author: str = DEFAULT_AUTHOR, expected: str | None | object = _UNSET) -> str:
    """Store a user's edited repository as a commit whose parent is the version they edited.

    `refs/heads/user` always points at the latest upload; its message names the base decision
    set, so a later regeneration knows what the user started from (the merge base). With
    `expected` (the user ref the caller saw, None for "no upload yet") the ref moves by
    compare-and-set: if another upload got there first, RefMoved is raised and nothing changes.
    """
    repo = open_or_init(repo_path)
    try:
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
            repo.refs[ref] = commit.id
        else:
            old = expected.encode("ascii") if isinstance(expected, str) else None
            try:
                moved = (repo.refs.set_if_equals(ref, old, commit.id, message=b"amp: user upload") if old
                         else repo.refs.add_if_new(ref, commit.id, message=b"amp: user upload"))
            except FileLocked:  # another upload holds the ref's lock: it is moving, this one lost the race
                moved = False
            if not moved:
                actual = _ref_target(repo, ref)
                raise RefMoved(USER_REF, expected if isinstance(expected, str) else None,
                               actual.decode() if actual else None, commit.id.decode())
        return commit.id.decode()
    finally:
        repo.close()


def latest_user_tree(repo_path: str | Path) -> tuple[str, str, dict[str, str]] | None:
    """(user commit, base decision set id, files) of the latest upload, or None."""
    if not Path(repo_path).exists():
        return None
    repo = open_or_init(repo_path)
    try:
        target = _ref_target(repo, USER_REF.encode())
        if target is None:
            return None
        meta = json.loads(repo[target].message.decode() or "{}")
    finally:
        repo.close()
    return target.decode(), meta["base_decision_set_id"], read_tree(repo_path, target.decode())
