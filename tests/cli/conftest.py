"""Fixtures of the CLI tests: a pseudo-terminal driver and one shared complete run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cli_helpers import COMPLETE, Terminal, amp


@pytest.fixture()
def terminal() -> Any:
    opened: list[Terminal] = []

    def start(argv: list[str]) -> Terminal:
        t = Terminal(argv)
        opened.append(t)
        return t

    yield start
    for t in opened:
        t.close()


@pytest.fixture(scope="module")
def completed_run(stack, tmp_path_factory) -> dict[str, Any]:
    """One complete `amp run --auto-approve --json --out DIR`, shared by the read-side tests."""
    out = tmp_path_factory.mktemp("run") / "repo"
    p = amp(stack.gateway_url, "run", COMPLETE, "--auto-approve", "--json", "--out", str(out))
    return {"proc": p, "out": out, "ds": json.loads(p.stdout) if p.stdout.strip().startswith("{") else None}

