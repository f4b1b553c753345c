"""Signing in from the command line: `amp token`, `amp login`/`logout`, and what a missing token says."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

from cli_helpers import ROOT, env


def amp_env(*args: str, extra: dict[str, str] | None = None, stdin: str | None = None,
            drop: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in env().items() if k not in drop}
    e.update(extra or {})
    return subprocess.run([sys.executable, "-m", "amp_cli.main", *args], cwd=ROOT, env=e, input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


def test_token_mints_for_the_stacks_issuer(stack) -> None:
    p = amp_env("token", "--user", "bob", "--ttl", "30m", "--data-dir", str(stack.settings.data_dir))
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()
    me = amp_env("projects", "--json", "--gateway", stack.gateway_url, extra={"AMP_TOKEN": token})
    assert me.returncode == 0, me.stderr
    assert amp_env("token", "--ttl", "soon", "--data-dir", str(stack.settings.data_dir)).returncode == 2


def test_without_a_token_the_cli_says_how_to_sign_in(stack, tmp_path) -> None:
    p = amp_env("projects", "--gateway", stack.gateway_url, drop=("AMP_TOKEN",),
                extra={"AMP_DATA_DIR": str(tmp_path / "none"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert p.returncode == 1
    assert "unauthorized" in p.stderr and "amp login" in p.stderr and "Traceback" not in p.stderr


def test_login_keeps_the_token_privately_and_logout_forgets_it(stack, tmp_path) -> None:
    cfg = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "AMP_DATA_DIR": str(tmp_path / "none")}
    token = stack.token("carol-cli")
    bad = amp_env("login", "--gateway", stack.gateway_url, stdin="not-a-token\n", drop=("AMP_TOKEN",), extra=cfg)
    assert bad.returncode == 1 and not (tmp_path / "cfg" / "amp" / "credentials.json").exists()
    p = amp_env("login", "--gateway", stack.gateway_url, stdin=token + "\n", drop=("AMP_TOKEN",), extra=cfg)
    assert p.returncode == 0 and "carol-cli" in p.stdout, p.stderr
    saved = tmp_path / "cfg" / "amp" / "credentials.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and token not in p.stdout
    made = amp_env("run", "nightly batch scoring on GCP", "--no-input", "--json", "--gateway", stack.gateway_url,
                   drop=("AMP_TOKEN",), extra=cfg)
    assert made.returncode in (0, 3, 4), made.stderr  # signed in: the run started (it may stop at a gate)
    projects = amp_env("projects", "--json", "--gateway", stack.gateway_url, drop=("AMP_TOKEN",), extra=cfg)
    assert projects.returncode == 0 and json.loads(projects.stdout), projects.stderr
    assert amp_env("logout", "--gateway", stack.gateway_url, extra=cfg).returncode == 0
    again = amp_env("projects", "--gateway", stack.gateway_url, drop=("AMP_TOKEN",), extra=cfg)
    assert again.returncode == 1 and os.environ.get("AMP_TOKEN")
