"""The secret scan's remembered lines find exactly what detect-secrets' own `scan_file` finds.

Each case scans trees in turn through the check (which remembers lines and files) and compares
every tree's findings with a plain `SecretsCollection` over the same files, nothing remembered.
The trees are chosen so that a line seen before comes back in a new neighbourhood: an allowlist
comment added or removed on the line above, the same secret on another line, a YAML file whose
secrets only the eager transformers reach, a key that only a line filter keeps out of the findings.
"""

from __future__ import annotations

import inspect

import pytest

from bench.validation import render as generated_tree
from services.validators.checks import secrets, validate_tree
from tests.evaldata import scenarios
from tests.validator_trees import fresh_secret_scan

AWS = 'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"\n'
GITHUB = "token = 'ghp_0123456789abcdefghijklmnopqrstuvwxyzAB'\n"
FILLER = [f"value_{i} = {i}\n" for i in range(12)]


def checked(files: dict[str, str]) -> list[tuple[str, int | None, str]]:
    result = validate_tree(files, checks=["detect-secrets"]).tool("detect-secrets")
    assert result is not None and result.status in ("pass", "fail")
    return sorted((f.path or "", f.line, f.rule) for f in result.findings)


def body(*lines: str) -> str:
    return "".join(lines)


ALLOWED_ABOVE = body(*FILLER[:4], "# pragma: allowlist nextline secret\n", AWS, *FILLER[4:])
NOT_ALLOWED = body(*FILLER[:4], "# nothing to see\n", AWS, *FILLER[4:])
ALLOWED_INLINE = body(*FILLER[:4], AWS.rstrip() + "  # pragma: allowlist secret\n", *FILLER[4:])
TWICE = body(AWS, *FILLER, AWS, GITHUB)
SHIFTED = body(*FILLER[:2], GITHUB, *FILLER, AWS, AWS)
YAML_BLOCK = body(
    "steps:\n",
    "  - run: |\n",
    "      echo start\n",
    "      export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n",
    "  - name: other\n",
    "    password: \"hunter2-but-longer-Zx9\"\n",
)
YAML_PLAIN = body("name: demo\n", "password: not-a-real-one-Zq8x7w6v\n", "other: 1\n")
HEX = "blob = 8a9f7e6d5c4b3a2910ffeeddccbbaa99887766554433221100\n"  # found only once quoted (eager)
# A key inside a call or an index: the plugins find it, the indirect-reference line filter drops it.
INDIRECT = 'aws = lookup("AKIAIOSFODNN7EXAMPLE")\n'

SEQUENCES = {
    "an allowlist comment above, then not": [
        {"app/settings.py": ALLOWED_ABOVE}, {"app/settings.py": NOT_ALLOWED}, {"app/settings.py": ALLOWED_ABOVE},
    ],
    "an inline allowlist comment, then not": [
        {"app/settings.py": ALLOWED_INLINE}, {"app/settings.py": body(*FILLER[:4], AWS, *FILLER[4:])},
    ],
    "one secret on two lines, then moved": [
        {"app/settings.py": TWICE}, {"app/settings.py": SHIFTED}, {"app/other.py": TWICE},
    ],
    "YAML, transformed and eager": [
        {"ci/deploy.yml": YAML_BLOCK, "ci/plain.yaml": YAML_PLAIN},
        {"ci/deploy.yml": "# moved\n" + YAML_BLOCK, "ci/plain.yaml": "# moved\n" + YAML_PLAIN},
        {"ci/deploy.yml": YAML_BLOCK.replace("echo start", "echo begin")},
    ],
    "a file read again by the eager transformers only when nothing was found": [
        {"conf/app.env": body("name = demo\n", HEX)},
        {"conf/app.env": body("aws = AKIAIOSFODNN7EXAMPLE\n", HEX)},
        {"conf/app.env": body("name = demo\n", HEX), "conf/other.env": body("aws = AKIAIOSFODNN7EXAMPLE\n", HEX)},
    ],
    "a secret in an indirect reference (a line filter drops it), then assigned": [
        {"app/keys.py": body(*FILLER[:3], INDIRECT, *FILLER[3:])}, {"app/keys.py": body(*FILLER[:3], AWS, *FILLER[3:])},
        {"app/keys.py": body(*FILLER[:3], INDIRECT, AWS, *FILLER[3:])},
    ],
    "the same lines at another path": [
        {"app/settings.py": NOT_ALLOWED}, {"docs/settings.md": NOT_ALLOWED, "lock/poetry.lock": NOT_ALLOWED},
    ],
}


@pytest.mark.parametrize("trees", SEQUENCES.values(), ids=SEQUENCES.keys())
def test_remembered_lines_find_what_a_plain_scan_finds(trees: list[dict[str, str]]) -> None:
    secrets.clear_cache()
    for files in trees:
        assert checked(files) == fresh_secret_scan(files)
    assert any(fresh_secret_scan(files) for files in trees)  # the cases hold secrets to find


def test_a_changed_line_above_a_remembered_one_is_judged_again() -> None:
    secrets.clear_cache()
    assert checked({"app/settings.py": ALLOWED_ABOVE}) == []
    assert checked({"app/settings.py": NOT_ALLOWED}) == [("app/settings.py", 6, "AWS Access Key")]


def test_a_changed_file_is_judged_mostly_from_remembered_lines(monkeypatch) -> None:
    secrets.clear_cache()
    judged: list[str] = []
    real = secrets._scan_line
    monkeypatch.setattr(secrets, "_scan_line", lambda f, line, n, s: judged.append(line) or real(f, line, n, s))
    long = [f"setting_{i} = 'value {i}'\n" for i in range(60)]
    checked({"app/settings.py": body(*long, AWS)})
    assert len(judged) == 61
    judged.clear()
    changed = body(*long[:30], "setting_x = 'changed'\n", *long[31:], AWS)
    assert checked({"app/settings.py": changed}) == fresh_secret_scan({"app/settings.py": changed})
    assert len(judged) == 2 * secrets.CONTEXT_LINES + 1  # the changed line and those that see it


def test_the_context_remembered_is_the_one_detect_secrets_judges_a_line_in() -> None:
    # lazy: detect-secrets loads its plugins on import
    from detect_secrets.util.code_snippet import get_code_snippet

    assert inspect.signature(get_code_snippet).parameters["lines_of_context"].default == secrets.CONTEXT_LINES


def test_generated_projects_with_planted_secrets_are_judged_as_a_plain_scan_judges_them() -> None:
    """Two new projects of one text (the second judged mostly from the first's lines), each with
    secrets planted in files that differ between them, between lines seen before."""
    secrets.clear_cache()
    text = scenarios()[0]["text"]
    for name in ("first-project", "second-project"):
        files = {p: t for p, t in generated_tree(text, name).items() if not p.endswith(".csv")}  # the same in both
        changed = sorted(p for p, t in files.items() if name in t)[:4]
        assert changed
        for i, path in enumerate(changed):
            lines = files[path].splitlines(keepends=True)
            middle = len(lines) // 2
            planted = AWS if i % 2 else "# pragma: allowlist nextline secret\n" + AWS
            files[path] = "".join([*lines[:middle], planted, *lines[middle:]])
        expected = fresh_secret_scan(files)
        assert checked(files) == expected
        assert {path for path, _, _ in expected} >= set(changed[1::2])
