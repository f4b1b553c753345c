"""A small client of the gateway's REST + SSE API, used by the CLI and the tests."""

from __future__ import annotations

import json
from typing import Any, Iterator

import httpx


class ApiError(Exception):
    """An error response of the gateway, in its §22.4 shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


class Client:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _check(self, r: httpx.Response) -> Any:
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                raise ApiError(r.status_code, err.get("code", "error"), err.get("message", r.text))
            except (ValueError, KeyError, TypeError):
                raise ApiError(r.status_code, "error", r.text[:300]) from None
        ctype = r.headers.get("content-type", "")
        return r.json() if ctype.startswith("application/json") else r.content

    def get(self, path: str, **params: Any) -> Any:
        return self._check(self.http.get(path, params={k: v for k, v in params.items() if v is not None}))

    def post(self, path: str, body: dict[str, Any], idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._check(self.http.post(path, json=body, headers=headers))

    def create_project(self, name: str, description: str = "") -> dict[str, Any]:
        return self.post("/projects", {"name": name, "description": description})

    def submit(self, project_id: str, text: str = "", constraints: dict | None = None) -> dict[str, Any]:
        return self.post(f"/projects/{project_id}/constraints", {"text": text, "constraints": constraints or {}})

    def answer(self, ds_id: str, answers: dict[str, Any], text: str = "", interrupt_id: str | None = None) -> Any:
        return self.post(f"/decision-sets/{ds_id}/answers",
                         {"answers": answers, "text": text, "interrupt_id": interrupt_id})

    def approve(self, ds_id: str, status: str = "approved", comment: str = "", waivers: list | None = None) -> Any:
        return self.post(f"/decision-sets/{ds_id}/approve", {"status": status, "comment": comment,
                                                             "waivers": waivers or []})

    def decision_set(self, ds_id: str) -> dict[str, Any]:
        return self.get(f"/decision-sets/{ds_id}")

    def events(self, ds_id: str, after: int = 0) -> list[dict[str, Any]]:
        return self.get(f"/decision-sets/{ds_id}/events", after=after)["events"]

    def artifact(self, ds_id: str) -> bytes:
        return self.get(f"/decision-sets/{ds_id}/artifact")

    def stream(self, ds_id: str, last_event_id: int | None = None, timeout: float = 300.0
               ) -> Iterator[tuple[str, dict[str, Any], int | None]]:
        """(event, data, id) from the SSE stream; ends after run-complete. Pings are skipped."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        with self.http.stream("GET", f"/streams/{ds_id}", headers=headers,
                              timeout=httpx.Timeout(timeout, read=timeout)) as r:
            if r.status_code >= 400:
                r.read()
                self._check(r)
            ev, data, eid = "message", [], None
            for line in r.iter_lines():
                if line == "":
                    if data and ev != "ping":
                        payload = json.loads("\n".join(data))
                        yield ev, payload, eid
                        if ev == "run-complete":
                            return
                    ev, data, eid = "message", [], None
                    continue
                if line.startswith(":"):
                    continue
                key, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if key == "event":
                    ev = value
                elif key == "data":
                    data.append(value)
                elif key == "id":
                    eid = int(value) if value.isdigit() else None
