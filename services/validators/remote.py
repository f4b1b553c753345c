"""Sending untrusted runs to a validation runner (`runner_app.py`) instead of running them here.

With `AMP_SANDBOX_RUNNER_URL` set, `Sandbox.run_untrusted` posts the tree and its steps to the
runner and returns what it ran. Steps name the interpreter by the token `{python}` on the wire, so
each side uses its own. A runner that cannot isolate (503) or cannot be reached is `NoIsolation`:
the check is reported `skipped`, and the code does not run here instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import httpx
from pydantic import BaseModel, Field

from .isolation import NoIsolation

RUNNER_ENV = "AMP_SANDBOX_RUNNER_URL"
PYTHON = "{python}"


class WireStep(BaseModel):
    argv: list[str] = Field(min_length=1, max_length=200)
    timeout_s: float = Field(gt=0, le=3600)
    env: dict[str, str] = Field(default_factory=dict, max_length=50)
    stop_on_failure: bool = False


class RunRequest(BaseModel):
    files: dict[str, str] = Field(max_length=20_000)
    steps: list[WireStep] = Field(min_length=1, max_length=10)
    memory_mb: int = Field(2048, ge=64, le=16_384)


def runner_url() -> str | None:
    return os.environ.get(RUNNER_ENV) or None


def to_wire(steps: list[Any]) -> list[dict[str, Any]]:
    return [{"argv": [PYTHON if a == sys.executable else a for a in s.argv], "timeout_s": s.timeout_s,
             "env": s.env, "stop_on_failure": s.stop_on_failure} for s in steps]


def from_wire(steps: list[WireStep]) -> list[Any]:
    # lazy: sandbox imports this module, so importing it at the top would be a cycle
    from .sandbox import Step

    return [Step([sys.executable if a == PYTHON else a for a in s.argv], s.timeout_s, dict(s.env), s.stop_on_failure)
            for s in steps]


def result_to_wire(r: Any) -> dict[str, Any]:
    return {"argv": [PYTHON if a == sys.executable else a for a in r.argv], "returncode": r.returncode,
            "stdout": r.stdout, "stderr": r.stderr, "duration_ms": r.duration_ms, "timed_out": r.timed_out,
            "stopped": list(r.stopped)}


def run_remote(url: str, files: dict[str, str], steps: list[Any], memory_mb: int) -> tuple[str, list[Any]]:
    """(isolation label, results) from the runner at `url`; NoIsolation when it cannot run them isolated."""
    # lazy: sandbox imports this module, so importing it at the top would be a cycle
    from .sandbox import RunResult

    wall = sum(s.timeout_s for s in steps) + 10 * len(steps) + 30
    try:
        resp = httpx.post(f"{url.rstrip('/')}/run", json={"files": files, "steps": to_wire(steps),
                                                          "memory_mb": memory_mb}, timeout=wall)
    except httpx.HTTPError as exc:
        raise NoIsolation(f"the validation runner at {url} did not answer ({type(exc).__name__})") from None
    if resp.status_code != 200:
        try:
            message = resp.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = resp.text[:300]
        raise NoIsolation(f"the validation runner at {url} answered {resp.status_code}: {message}")
    doc = resp.json()
    label = f"validation runner ({doc['isolation']})"
    results = [RunResult(tuple(sys.executable if a == PYTHON else a for a in r["argv"]), int(r["returncode"]),
                         str(r["stdout"]), str(r["stderr"]), int(r["duration_ms"]), bool(r["timed_out"]),
                         tuple(r["stopped"]), label) for r in doc["results"]]
    return label, results
