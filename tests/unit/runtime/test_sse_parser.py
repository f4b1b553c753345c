"""SSE framing as the gateway writes it: events, multi-line data, ids, pings and comments."""

from __future__ import annotations

from amp_cli.sse import SseParser


def test_frames_ids_pings_and_comments() -> None:
    lines = [": keep-alive", "event: reason-card", "id: 7", 'data: {"a":', "data: 1}", "",
             "event: ping", "data: {}", "", "event: run-complete", "id: 9", 'data: {"status": "completed"}', ""]
    parser = SseParser()
    frames = [f for f in (parser.feed(line) for line in lines) if f is not None]
    assert frames == [("reason-card", {"a": 1}, 7), ("run-complete", {"status": "completed"}, 9)]
