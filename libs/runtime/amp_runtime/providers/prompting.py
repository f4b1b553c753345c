"""How user data goes into a prompt: values as stable JSON, free text between markers."""

from __future__ import annotations

import json
from typing import Any


def as_json(value: Any) -> str:
    """Stable, readable JSON for a prompt (sorted keys, non-ASCII kept)."""
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


OPEN, CLOSE = "<<<", ">>>"


def fenced(text: str) -> str:
    """User text between the markers, unable to close them: a marker sequence inside the text is
    broken up (`>>>` becomes `>> >`), so the model reads everything up to the real closing marker
    as the user's words, never as the platform's instructions."""
    body = text
    for marker, broken in ((OPEN, "<< <"), (CLOSE, ">> >")):
        while marker in body:
            body = body.replace(marker, broken)
    return f"{OPEN}\n{body}\n{CLOSE}"


def quoted(label: str, text: str) -> str:
    """Free text the user wrote, between markers the prompt packs tell the model to treat as data."""
    return f"{label} (between the markers):\n{fenced(text)}"
