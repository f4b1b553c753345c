"""Server-Sent Events framing, one line at a time, shared by the sync CLI client and the async bench."""

from __future__ import annotations

import json
from typing import Any

Frame = tuple[str, dict[str, Any], int | None]


class SseParser:
    """Feed lines; a blank line completes a frame `(event, data, id)`. Pings and comments are dropped."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.event, self.data, self.id = "message", [], None

    def feed(self, line: str) -> Frame | None:
        if line == "":
            frame = (self.event, json.loads("\n".join(self.data)), self.id) \
                if self.data and self.event != "ping" else None
            self._reset()
            return frame
        if line.startswith(":"):
            return None
        key, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if key == "event":
            self.event = value
        elif key == "data":
            self.data.append(value)
        elif key == "id":
            self.id = int(value) if value.isdigit() else None
        return None
