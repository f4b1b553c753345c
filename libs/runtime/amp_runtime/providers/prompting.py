"""How user data goes into a prompt: values as stable JSON, free text between markers."""

from __future__ import annotations

import json
from typing import Any


def as_json(value: Any) -> str:
    """Stable, readable JSON for a prompt (sorted keys, non-ASCII kept)."""
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def quoted(label: str, text: str) -> str:
    """Free text the user wrote, between markers the prompt packs tell the model to treat as data."""
    return f"{label} (between the markers):\n<<<\n{text}\n>>>"
