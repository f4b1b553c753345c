"""A webhook receiver on loopback: records every request and answers from a script (a user's system).

Each path has its own list of status codes, answered in order (then 200): `fail_then(path, 500, 500)`
makes the first two attempts fail. Requests are kept with their headers and raw body, for
verification with the Standard Webhooks reference library.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.scripts: dict[str, list[int]] = {}
        self.first_fails: set[str] = set()  # paths whose every new webhook-id is refused once
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    script = receiver.scripts.get(self.path) or []
                    status = script.pop(0) if script else 200
                    msg_id = self.headers.get("webhook-id")
                    if self.path in receiver.first_fails and not any(
                            r.path == self.path and r.headers.get("webhook-id") == msg_id for r in receiver.requests):
                        status = 500
                    receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body, status, time.time()))
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"not now")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def fail_then(self, path: str, *statuses: int) -> None:
        with self.lock:
            self.scripts[path] = list(statuses)

    def fail_first_attempts(self, path: str) -> None:
        """Answer 500 to the first attempt of every message to `path` (so every delivery needs a retry)."""
        with self.lock:
            self.first_fails.add(path)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait(self, path: str, n: int, timeout: float = 60.0) -> list[Received]:
        """The first `n` requests to `path`, waiting for them; an AssertionError if they do not come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.at(path)
            if len(got) >= n:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{path}: {len(self.at(path))} of {n} requests arrived in {timeout} s")
