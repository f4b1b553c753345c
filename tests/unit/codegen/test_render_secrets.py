"""No generated file carries a secret, an account id or a hard-coded credential."""

from __future__ import annotations

import re

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

pytestmark = pytest.mark.slow  # detect-secrets over every generated tree

#: Twelve digits standing alone (`:123456789012:` in an ARN), not a run of digits inside a longer
#: token such as an action's commit SHA.
ACCOUNT_ID = re.compile(r"(?<![0-9A-Za-z.])\d{12}(?![0-9A-Za-z.])")
#: AWS's documentation example account (also the mocked project number) and the nil UUID (the mocked
#: Azure tenant): the mock data `terraform test` plans with; allowed in the plan tests only.
MOCK_IDS = ("123456789012", "00000000-0000-0000-0000-000000000000")
#: Azure built-in role definitions (Owner, User Access Administrator, Role Based Access Control
#: Administrator): the same public ids in every tenant, which the bootstrap forbids deployers to grant.
BUILTIN_ROLE_IDS = ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
                    "f58310d9-a9f6-439a-9e8d-f62e7b41a168")
PATTERNS = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)(password|secret|access_key|client_secret)\s*[:=]\s*\"[^\"$]{6,}\""),
    re.compile(r"ghp_[A-Za-z0-9]{20,}"),
    re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),  # tenant/subscription ids
]


def test_no_account_ids_or_credential_shapes(rendered):
    for name, files in rendered.items():
        for path, text in files.items():
            if path == "data/sample.csv":
                continue  # numeric sample data, two decimals
            if path.endswith(".tftest.hcl"):
                for mock in MOCK_IDS:  # the mocked providers' placeholders
                    text = text.replace(mock, "")
            assert not ACCOUNT_ID.search(text), f"{name}:{path}: {ACCOUNT_ID.search(text).group()}"
            for role in BUILTIN_ROLE_IDS:
                text = text.replace(role, "")
            for pattern in PATTERNS:
                assert not pattern.search(text), f"{name}:{path} matches {pattern.pattern}"


def test_detect_secrets_finds_nothing(written, rendered):
    for name, root in written.items():
        collection = SecretsCollection()
        with default_settings():
            for path in rendered[name]:  # only generated files, not what their test runs leave behind
                collection.scan_file(str(root / path))
        found = {f"{file}:{s.type}" for file, s in collection}
        assert not found, f"{name}: {sorted(found)}"
