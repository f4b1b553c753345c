"""The gateway makes no request spans of FastAPI's own (the contrib instrumentation's, when exporting)."""

from __future__ import annotations

import pytest
from amp_runtime import telemetry
from amp_runtime.settings import Settings

from services.gateway.app import create_app


def test_the_gateway_turns_fastapis_own_telemetry_off(tmp_path) -> None:
    if not telemetry.fastapi_options():
        pytest.skip("this FastAPI has no telemetry of its own")
    app = create_app(Settings(data_dir=tmp_path))
    # FastAPI keeps its telemetry settings on the application (no public accessor)
    assert {k: app._telemetry[k] for k in ("tracing", "metrics", "logs", "operation_spans")} == \
        dict.fromkeys(("tracing", "metrics", "logs", "operation_spans"), False)
