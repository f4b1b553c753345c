"""No generated file carries a secret, an account id or a hard-coded credential."""

from __future__ import annotations

import re

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

pytestmark = pytest.mark.slow  # detect-secrets over every generated tree

ACCOUNT_ID = re.compile(r"(?<![\d.])\d{12}(?![\d.])")
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
            assert not ACCOUNT_ID.search(text), f"{name}:{path}: {ACCOUNT_ID.search(text).group()}"
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
