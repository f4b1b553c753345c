"""A scripted Messages API server on 127.0.0.1, for tests that drive the real `anthropic` SDK.

The SDK talks HTTP to it exactly as to the real API (`base_url=server.url`), so nothing inside
the SDK is mocked. Each test scripts the answers: per model, or for any model, in order.

    server = FakeAnthropicServer().start()
    server.script(tool_reply("choose_pattern", {...}), model="claude-x")
    server.script(error_reply(429, headers={"retry-after": "1"}))
    ... AsyncAnthropic(base_url=server.url, api_key="test", max_retries=0) ...
    server.requests  # every request received: path, headers, JSON body, arrival time

It also answers `POST /v1/chat/completions` (the OpenAI-compatible shape) from the same script.
A request with nothing scripted for it gets a 400 `invalid_request_error` saying so.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

_ids = itertools.count(1)

@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict, or a callable(request_body) -> dict
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float

    @property
    def model(self) -> str | None:
        return self.body.get("model")

def usage(input_tokens: int = 10, output_tokens: int = 5, cache_read: int = 0, cache_write: int = 0) -> dict[str, int]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens,
            "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": cache_write}

def _message(model: str, content: list[dict[str, Any]], stop_reason: str, use: dict[str, int] | None) -> dict:
    return {"id": f"msg_{next(_ids):06d}", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": None, "usage": use or usage()}

def tool_reply(name: str, tool_input: dict[str, Any], *, use: dict[str, int] | None = None,
               delay_s: float = 0.0) -> Reply:
    """A forced tool call answering with `tool_input`."""
    def body(req: dict[str, Any]) -> dict[str, Any]:
        block = {"type": "tool_use", "id": f"toolu_{next(_ids):06d}", "name": name, "input": tool_input}
        return _message(req.get("model", "unknown"), [block], "tool_use", use)

    return Reply(200, body, delay_s=delay_s)

def text_reply(text: str, *, use: dict[str, int] | None = None) -> Reply:
    return Reply(200, lambda req: _message(req.get("model", "unknown"), [{"type": "text", "text": text}],
                                           "end_turn", use))

def error_reply(status: int, error_type: str | None = None, message: str = "scripted error", *,
                headers: dict[str, str] | None = None) -> Reply:
    error_type = error_type or {429: "rate_limit_error", 529: "overloaded_error", 500: "api_error",
                                400: "invalid_request_error", 401: "authentication_error"}.get(status, "api_error")
    return Reply(status, {"type": "error", "error": {"type": error_type, "message": message}}, dict(headers or {}))

def chat_reply(content: str | dict[str, Any], *, prompt_tokens: int = 20, completion_tokens: int = 8,
               cached_tokens: int = 0) -> Reply:
    """An OpenAI-compatible chat completion whose message content is `content` (a dict becomes JSON)."""
    text = content if isinstance(content, str) else json.dumps(content)

    def body(req: dict[str, Any]) -> dict[str, Any]:
        return {"id": f"chatcmpl-{next(_ids)}", "object": "chat.completion", "model": req.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens,
                          "prompt_tokens_details": {"cached_tokens": cached_tokens}}}

    return Reply(200, body)

class FakeAnthropicServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._queues: dict[str | None, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._responder: Any = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ scripting

    def script(self, *replies: Reply, model: str | None = None) -> FakeAnthropicServer:
        """Queue `replies` for requests naming `model` (None: for any model without its own queue)."""
        with self._lock:
            self._queues.setdefault(model, deque()).extend(replies)
        return self

    def respond(self, fn: Any) -> FakeAnthropicServer:
        """Answer every request that has nothing scripted with `fn(request_body) -> Reply`."""
        self._responder = fn
        return self

    def pending(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    def for_model(self, model: str) -> list[Recorded]:
        return [r for r in self.requests if r.model == model]

    def _next(self, model: str | None) -> Reply | None:
        with self._lock:
            for key in (model, None):
                q = self._queues.get(key)
                if q:
                    return q.popleft()
        return None

    def _fallback(self, req: dict[str, Any]) -> Reply | None:
        return self._responder(req) if self._responder is not None else None

    # ------------------------------------------------------------------ server

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAnthropicServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"_raw": raw.decode(errors="replace")}
                path = self.path.split("?")[0]
                server.requests.append(Recorded(path, {k.lower(): v for k, v in self.headers.items()}, body,
                                                time.monotonic()))
                if path not in ("/v1/messages", "/v1/chat/completions"):
                    return self._send(Reply(404, {"type": "error", "error": {"type": "not_found_error",
                                                                             "message": f"no route {path}"}}), body)
                reply = server._next(body.get("model")) or server._fallback(body)
                if reply is None:
                    reply = error_reply(400, message=f"fake server: no scripted answer for model {body.get('model')}")
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                self._send(reply, body)

            def _send(self, reply: Reply, req: dict[str, Any]) -> None:
                payload = reply.body(req) if callable(reply.body) else reply.body
                data = json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.send_header("request-id", f"req_{next(_ids):06d}")
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
