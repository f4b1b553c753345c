"""A small client of the gateway's REST + SSE API, used by the CLI and the tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from . import credentials
from .sse import SseParser


class ApiError(Exception):
    """An error response of the gateway, in its error-model shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


class Unreachable(ApiError):
    """The gateway could not be reached (refused, timed out, dropped the connection)."""

    def __init__(self, base_url: str, err: Exception) -> None:
        detail = str(err) or type(err).__name__
        super().__init__(0, "unreachable", f"cannot reach the gateway at {base_url} ({detail}); "
                                           "is it running (`amp up`)? set --gateway or AMP_GATEWAY")


#: Answers that say "the same request will work in a moment": a restarting gateway, a busy pool,
#: a keyed request still in progress.
RETRIED_STATUS = frozenset({502, 503, 504})


class Client:
    """Every POST carries an `Idempotency-Key` (one per call, kept across its retries), so a
    request is retried safely. Once the gateway has answered this client, a restart of it (refused
    connections, 502/503/504, a key still in progress) is ridden through for `retry_for_s`, with
    `on_retry` told each time ("reconnecting"); a gateway never reached fails at once.

    `token`: the bearer token; None finds one (`amp_cli.credentials.resolve`), "" sends none."""

    def __init__(self, base_url: str, timeout: float = 30.0, retry_for_s: float = 120.0,
                 on_retry: Callable[[str], None] | None = None, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        token = credentials.resolve(self.base_url) if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers)
        self.retry_for_s = retry_for_s
        self.on_retry = on_retry
        self._reached = False

    def _retrying(self, attempt: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + self.retry_for_s
        failures = 0
        while True:
            try:
                out = attempt()
                self._reached = True
                return out
            except ApiError as e:
                in_progress = e.status == 409 and "still being processed" in e.message
                transient = isinstance(e, Unreachable) or e.status in RETRIED_STATUS or in_progress
                if not (transient and (self._reached or in_progress)) or time.monotonic() >= deadline:
                    if not isinstance(e, Unreachable):
                        self._reached = True
                    raise
                failures += 1
                if self.on_retry is not None:
                    self.on_retry(f"reconnecting to {self.base_url} ({e.code}), attempt {failures}")
                time.sleep(min(5.0, 0.25 * 2 ** failures))

    def close(self) -> None:
        self.http.close()

    def _check(self, r: httpx.Response) -> Any:
        if r.status_code == 401:
            try:
                message = r.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = r.text[:300]
            raise ApiError(401, "unauthorized", f"{message} (sign in: `amp login`, or set AMP_TOKEN)")
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                raise ApiError(r.status_code, err.get("code", "error"), err.get("message", r.text))
            except (ValueError, KeyError, TypeError):
                raise ApiError(r.status_code, "error", r.text[:300]) from None
        ctype = r.headers.get("content-type", "")
        return r.json() if ctype.startswith("application/json") else r.content

    def _send(self, method: str, path: str, **kw: Any) -> Any:
        try:
            r = self.http.request(method, path, **kw)
        except httpx.TransportError as e:
            raise Unreachable(self.base_url, e) from None
        return self._check(r)

    def get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        return self._retrying(lambda: self._send("GET", path, params=query))

    def post(self, path: str, body: dict[str, Any], idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        return self._retrying(lambda: self._send("POST", path, json=body, headers=headers))

    def projects(self, limit: int = 100) -> list[dict[str, Any]]:
        return self.get("/projects", limit=limit)["projects"]

    def project(self, project_id: str) -> dict[str, Any]:
        return self.get(f"/projects/{project_id}")

    def diff(self, ds_id: str, against: str | None = None, as_json: bool = False) -> Any:
        out = self.get(f"/decision-sets/{ds_id}/diff", against=against, format="json" if as_json else "text")
        return out if as_json else (out.decode() if isinstance(out, bytes) else str(out))

    def all_events(self, ds_id: str, after: int = 0, page: int = 1000) -> list[dict[str, Any]]:
        """Every stored event of a decision set after `after`, across pages."""
        out: list[dict[str, Any]] = []
        while True:
            batch = self.get(f"/decision-sets/{ds_id}/events", after=after, limit=page)["events"]
            out.extend(batch)
            if len(batch) < page:
                return out
            after = batch[-1]["number"]

    def create_project(self, name: str, description: str = "") -> dict[str, Any]:
        return self.post("/projects", {"name": name, "description": description})

    def submit(self, project_id: str, text: str = "", constraints: dict | None = None) -> dict[str, Any]:
        return self.post(f"/projects/{project_id}/constraints", {"text": text, "constraints": constraints or {}})

    def answer(self, ds_id: str, answers: dict[str, Any], text: str = "", interrupt_id: str | None = None) -> Any:
        return self.post(f"/decision-sets/{ds_id}/answers",
                         {"answers": answers, "text": text, "interrupt_id": interrupt_id})

    def approve(self, ds_id: str, status: str = "approved", comment: str = "", waivers: list | None = None,
                by: str | None = None) -> Any:
        body = {"status": status, "comment": comment, "waivers": waivers or []}
        if by:
            body["by"] = by
        return self.post(f"/decision-sets/{ds_id}/approve", body)

    def decision_set(self, ds_id: str) -> dict[str, Any]:
        return self.get(f"/decision-sets/{ds_id}")

    def events(self, ds_id: str, after: int = 0) -> list[dict[str, Any]]:
        return self.get(f"/decision-sets/{ds_id}/events", after=after)["events"]

    def artifact(self, ds_id: str) -> bytes:
        """The zip; with artifacts on S3 the gateway redirects to a presigned URL, followed here."""
        return self._send("GET", f"/decision-sets/{ds_id}/artifact", follow_redirects=True)

    def stream(self, ds_id: str, last_event_id: int | None = None, timeout: float = 300.0
               ) -> Iterator[tuple[str, dict[str, Any], int | None]]:
        """(event, data, id) from the SSE stream; ends after run-complete. Pings are skipped."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        try:
            yield from self._stream(ds_id, headers, timeout)
        except httpx.TransportError as e:
            raise Unreachable(self.base_url, e) from None

    def follow(self, ds_id: str, last_event_id: int | None = None, timeout: float = 60.0,
               give_up_after_s: float = 600.0) -> Iterator[tuple[str, dict[str, Any], int | None]]:
        """`stream`, reconnecting with Last-Event-ID after a dropped connection (no gap, no duplicate).

        The run goes on while the gateway restarts, so the stream is resumed for as long as the
        gateway stays away less than `give_up_after_s` at a stretch (502/503/504 count as away).
        """
        failures = 0
        down_since: float | None = None
        while True:
            try:
                for ev, data, eid in self.stream(ds_id, last_event_id, timeout):
                    failures, down_since = 0, None
                    if eid is not None:
                        last_event_id = eid
                    yield ev, data, eid
                    if ev == "run-complete":
                        return
                time.sleep(0.5)  # the server ended the stream early (its time limit): resume
            except ApiError as e:
                if not (isinstance(e, Unreachable) or e.status in RETRIED_STATUS):
                    raise
                now = time.monotonic()
                down_since = down_since or now
                if now - down_since > give_up_after_s:
                    raise
                failures += 1
                if self.on_retry is not None:
                    self.on_retry(f"reconnecting to {self.base_url} ({e.code}), attempt {failures}")
                time.sleep(min(5.0, 0.5 * 2 ** (failures - 1)))

    def _stream(self, ds_id: str, headers: dict[str, str], timeout: float
                ) -> Iterator[tuple[str, dict[str, Any], int | None]]:
        with self.http.stream("GET", f"/streams/{ds_id}", headers=headers,
                              timeout=httpx.Timeout(timeout, read=timeout)) as r:
            if r.status_code >= 400:
                r.read()
                self._check(r)
            parser = SseParser()
            for line in r.iter_lines():
                frame = parser.feed(line)
                if frame is not None:
                    yield frame
                    if frame[0] == "run-complete":
                        return
