"""The validation runner as its own process: the validators send untrusted runs to it over HTTP.

`amp serve validation-runner` is started as a real process with an environment that holds no
platform secret; the validators (in this process, which does hold one) run the pytest check
through it. Where the runner cannot isolate, or cannot be reached, the check is skipped with the
reason: nothing falls back to running the code here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from amp_runtime.embedded import free_port

from services.validators.checks import validate_tree
from services.validators.isolation import isolation

pytestmark = pytest.mark.integration

TREE = {
    "services/__init__.py": "",
    "services/calc/__init__.py": "",
    "services/calc/core.py": "def double(x: int) -> int:\n    return 2 * x\n",
    "services/calc/tests/test_core.py": (
        "import os\n\nfrom services.calc.core import double\n\n\ndef test_double() -> None:\n"
        "    assert double(2) == 4\n\n\ndef test_no_platform_secret_here() -> None:\n"
        "    assert 'AMP_PLANTED' not in os.environ\n"),
}


def start_runner(extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "AMP_TOOLS_DIR")}
    proc = subprocess.Popen([sys.executable, "-m", "amp_cli.main", "serve", "validation-runner", "--port", str(port)],
                            env={**env, **(extra_env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the validation runner did not start")


@pytest.fixture()
def runner():
    if not isolation().available:
        pytest.skip(f"no isolation on this host: {isolation().reason}")
    proc, url = start_runner()
    yield url
    proc.terminate()
    proc.wait(10)


def test_the_generated_tests_run_in_the_runner(runner: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMP_SANDBOX_RUNNER_URL", runner)
    monkeypatch.setenv("AMP_PLANTED", uuid.uuid4().hex)
    health = httpx.get(f"{runner}/healthz").json()
    assert health["available"] and health["isolation"].startswith("bubblewrap")
    result = validate_tree(TREE, checks=["pytest"], checkov=False).tool("pytest")
    assert result.status == "pass", result
    assert result.isolation.startswith("validation runner (bubblewrap")


def test_an_unreachable_runner_means_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMP_SANDBOX_RUNNER_URL", f"http://127.0.0.1:{free_port()}")
    result = validate_tree(TREE, checks=["pytest"], checkov=False).tool("pytest")
    assert result.status == "skipped" and result.reason.startswith("no isolation")
    assert "did not answer" in result.reason


def test_a_runner_that_cannot_isolate_refuses_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    proc, url = start_runner({"AMP_BWRAP": "/nonexistent/bwrap"})
    try:
        assert httpx.get(f"{url}/healthz").json()["available"] is False
        monkeypatch.setenv("AMP_SANDBOX_RUNNER_URL", url)
        result = validate_tree(TREE, checks=["pytest"], checkov=False).tool("pytest")
    finally:
        proc.terminate()
        proc.wait(10)
    assert result.status == "skipped" and "503" in result.reason and "no bwrap" in result.reason
