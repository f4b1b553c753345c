"""SSE frames: the heartbeat dispatches no event, so a client never sees an event id twice."""

from __future__ import annotations

from services.gateway.sse import heartbeat


def test_the_heartbeat_is_an_event_line_without_data() -> None:
    wire = heartbeat().encode().decode()
    assert wire.startswith("event: ping") and "data:" not in wire and "id:" not in wire
