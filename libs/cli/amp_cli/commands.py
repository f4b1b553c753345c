"""Commands that work against a running gateway (`--gateway URL` or AMP_GATEWAY)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the gateway commands to the `amp` parser."""
