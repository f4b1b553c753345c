"""The per-project bare repository: idempotent commits, tree reads, unified diffs, CAS on refs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from amp_runtime.gitstore import RefMoved, commit_version, head, open_or_init, read_tree, unified_diff

V1 = {"README.md": "# demo\n", "services/app.py": "def f():\n    return 1\n", "scripts/run.sh": "#!/bin/sh\necho\n"}
V2 = V1 | {"services/app.py": "def f():\n    return 2\n", "docs/plan.md": "# plan\n"}


def test_open_or_init_creates_a_bare_repo_on_main(tmp_path: Path) -> None:
    repo = open_or_init(tmp_path / "p")
    assert repo.bare
    repo.close()
    assert (tmp_path / "p" / "HEAD").read_text().strip() == "ref: refs/heads/main"
    assert head(tmp_path / "p") is None


def test_same_tree_same_parent_returns_the_existing_commit(tmp_path: Path) -> None:
    repo = tmp_path / "p"
    c1 = commit_version(repo, V1, "v1", None)
    assert commit_version(repo, V1, "v1 redelivered", None) == c1
    c2 = commit_version(repo, V2, "v2", c1)
    assert commit_version(repo, V2, "v2 redelivered", c1) == c2
    assert head(repo) == c2
    log = subprocess.run(["git", "-C", str(repo), "rev-list", "main"], capture_output=True, text=True, check=True)
    assert log.stdout.split() == [c2, c1]


def test_version_key_pins_the_commit(tmp_path: Path) -> None:
    repo = tmp_path / "p"
    c1 = commit_version(repo, V1, "v1", None, version_key="ds_1")
    assert commit_version(repo, V1, "again", None, version_key="ds_1") == c1
    assert (repo / "refs" / "versions" / "ds_1").read_text().strip() == c1


def test_redelivery_that_passes_the_new_head_as_parent_is_still_idempotent(tmp_path: Path) -> None:
    repo = tmp_path / "p"
    c1 = commit_version(repo, V1, "v1", None, version_key="ds_1")
    c2 = commit_version(repo, V2, "v2", head(repo), version_key="ds_2")
    assert commit_version(repo, V2, "v2 redelivered", head(repo), version_key="ds_2") == c2
    assert head(repo) == c2 and c1 != c2


def test_read_tree_round_trips(tmp_path: Path) -> None:
    c1 = commit_version(tmp_path / "p", V1, "v1", None)
    assert read_tree(tmp_path / "p", c1) == V1


def test_unified_diff_shows_the_change(tmp_path: Path) -> None:
    repo = tmp_path / "p"
    c1 = commit_version(repo, V1, "v1", None)
    c2 = commit_version(repo, V2, "v2", c1)
    diff = unified_diff(repo, c1, c2)
    assert "--- a/services/app.py\n+++ b/services/app.py" in diff
    assert "-    return 1\n+    return 2\n" in diff
    assert "+++ b/docs/plan.md" in diff and "README.md" not in diff
    first = unified_diff(repo, None, c1)
    assert "new file mode 100755" in first  # the shebang script is executable
    assert first.count("new file mode") == 3


def test_stale_parent_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "p"
    c1 = commit_version(repo, V1, "v1", None)
    c2 = commit_version(repo, V2, "v2", c1)
    with pytest.raises(RefMoved) as info:
        commit_version(repo, V1 | {"x.txt": "other\n"}, "concurrent v2", c1)
    assert info.value.actual == c2 and info.value.expected == c1
    assert head(repo) == c2


def test_paths_outside_the_tree_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        commit_version(tmp_path / "p", {"../escape": "x"}, "bad", None)


def test_user_uploads_move_their_ref_by_compare_and_set(tmp_path) -> None:
    import concurrent.futures

    from amp_runtime.gitstore import RefMoved, commit_version, record_user_tree, user_tree_head

    repo = tmp_path / "p.git"
    base = commit_version(repo, {"a.txt": "a\n"}, "v1", None)
    first = record_user_tree(repo, {"a.txt": "one\n"}, base, "ds1", expected=None)
    assert user_tree_head(repo) == first
    with pytest.raises(RefMoved):  # edits based on "no upload yet" lose to the upload that exists
        record_user_tree(repo, {"a.txt": "stale\n"}, base, "ds1", expected=None)
    assert user_tree_head(repo) == first

    def race(i: int) -> str:
        try:
            return record_user_tree(repo, {"a.txt": f"{i}\n"}, base, "ds1", expected=first)
        except RefMoved:
            return "lost"

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(race, range(6)))
    winners = [o for o in outcomes if o != "lost"]
    assert len(winners) == 1 and user_tree_head(repo) == winners[0]
