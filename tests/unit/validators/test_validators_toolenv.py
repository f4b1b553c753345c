"""Isolated tool venvs: reuse a complete one, remember failures, never fake availability."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services.validators import toolenv
from services.validators.toolenv import ToolSpec, ToolUnavailable, ensure_tool, is_ready

SPEC = ToolSpec("demo", "1.0", "demo==1.0", "demo")


def fake_install(spec: ToolSpec, env: Path, timeout_s: float) -> None:
    (env / "bin").mkdir(parents=True)
    (env / "bin" / spec.executable).write_text("#!/bin/sh\n")
    (env / toolenv.MARKER).write_text("{}")


def test_root_follows_amp_tools_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AMP_TOOLS_DIR", str(tmp_path))
    assert toolenv.tools_root() == tmp_path
    assert toolenv.tool_dir(toolenv.CHECKOV) == tmp_path / f"checkov-{toolenv.CHECKOV.version}"


def test_installs_once_then_reuses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []
    monkeypatch.setattr(toolenv, "_install", lambda s, e, t: (calls.append(e), fake_install(s, e, t)))
    first = ensure_tool(SPEC, root=tmp_path)
    second = ensure_tool(SPEC, root=tmp_path)
    assert first == second == tmp_path / "demo-1.0" / "bin" / "demo"
    assert len(calls) == 1 and is_ready(SPEC, tmp_path)


def test_incomplete_env_without_marker_is_rebuilt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "demo-1.0" / "bin").mkdir(parents=True)
    (tmp_path / "demo-1.0" / "bin" / "demo").write_text("")
    assert not is_ready(SPEC, tmp_path)
    monkeypatch.setattr(toolenv, "_install", lambda s, e, t: (__import__("shutil").rmtree(e), fake_install(s, e, t)))
    ensure_tool(SPEC, root=tmp_path)
    assert is_ready(SPEC, tmp_path)


def test_failure_is_remembered_and_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []

    def failing(spec: ToolSpec, env: Path, timeout_s: float) -> None:
        calls.append(1)
        raise ToolUnavailable(spec.name, "no matching distribution")

    monkeypatch.setattr(toolenv, "_install", failing)
    for _ in range(2):
        with pytest.raises(ToolUnavailable, match="no matching distribution") as info:
            ensure_tool(SPEC, root=tmp_path)
        assert info.value.reason == "no matching distribution"
    assert len(calls) == 1  # the second call used the remembered failure
    with pytest.raises(ToolUnavailable):
        ensure_tool(SPEC, root=tmp_path, retry_failed=True)
    assert len(calls) == 2


def test_remembered_failure_expires(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "demo-1.0.amp-failed.json").write_text(json.dumps({"at": time.time() - 2 * toolenv.FAILURE_TTL_S,
                                                                   "reason": "old"}))
    monkeypatch.setattr(toolenv, "_install", fake_install)
    assert ensure_tool(SPEC, root=tmp_path).exists()
    assert not (tmp_path / "demo-1.0.amp-failed.json").exists()


def test_install_disabled_reports_why(tmp_path: Path) -> None:
    with pytest.raises(ToolUnavailable, match="not installed"):
        ensure_tool(SPEC, root=tmp_path, install=False)
