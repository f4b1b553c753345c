"""The clean hand-written tree of `tests.validator_trees` as a fixture."""

from __future__ import annotations

import pytest

from tests.validator_trees import clean_tree


@pytest.fixture
def tree() -> dict[str, str]:
    return clean_tree()
