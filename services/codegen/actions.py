"""The GitHub Actions a generated workflow may use, each pinned to the commit of a release.

A tag can be moved by whoever controls the action's repository; a commit cannot. Workflows
therefore reference `owner/repo@<40-hex sha>` and keep the release in a trailing comment, so
Dependabot (configured in the generated repository) can propose updates that a reviewer reads
as versions. The table is the only place a pin is written: templates name an action as
`owner/repo@pin` and `pinned()` replaces it, so an action missing here fails rendering instead
of shipping unpinned.
"""

from __future__ import annotations

import re

#: owner/repo -> (commit, release it was tagged as). Each commit is the tag's target.
ACTIONS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "hashicorp/setup-terraform": ("dfe3c3f87815947d99a8997f908cb6525fc44e9e", "v4.0.1"),
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
    "aws-actions/amazon-ecr-login": ("03f1aad4c6c7ffd436567f42f9384779290529bd", "v2.1.7"),
    "google-github-actions/auth": ("7c6bc770dae815cd3e89ee6cdf493a5fab2cc093", "v3.0.0"),
    "google-github-actions/setup-gcloud": ("aa5489c8933f4cc7a4f7d45035b3b1440c9c10db", "v3.0.1"),
    "azure/login": ("f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca", "v3.0.1"),
    "docker/setup-buildx-action": ("37fe631027851001ddb9b187196cc803df7f5f0e", "v4.3.0"),
    "docker/build-push-action": ("53b7df96c91f9c12dcc8a07bcb9ccacbed38856a", "v7.3.0"),
    "grafana/setup-k6-action": ("db07bd9765aac508ef18982e52ab937fe633a065", "v1.2.1"),
}

_USES = re.compile(r"\b([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)@pin\b")
PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@\s]+)?@[0-9a-f]{40}$")


def uses(action: str) -> str:
    """`owner/repo@sha # release` for one action of the table."""
    sha, release = ACTIONS[action]
    return f"{action}@{sha} # {release}"


def pinned(text: str) -> str:
    """Every `owner/repo@pin` of a workflow template replaced by its pinned reference."""
    return _USES.sub(lambda m: uses(m[1]), text)
