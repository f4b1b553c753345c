"""Warm Terraform providers: what init locks is what is attached; a pass from them, every failure judged cold.

The pure parts (lock files, the stub mirror, finding a build) run everywhere; the runs need the
Terraform CLI and the AWS provider in the offline mirror, and are skipped with the reason elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.validators.checks import terraform_providers as providers
from services.validators.checks import validate_tree
from services.validators.checks.terraform_validate import DEFAULT_MIRROR, GO_ENV, MEMORY_MB
from tests.unit.validators.test_terraform_validate import CHECK, _files, _result

MIRROR = Path(os.environ.get("AMP_TF_PLUGIN_MIRROR", DEFAULT_MIRROR))
AWS = "registry.terraform.io/hashicorp/aws"


def _mirror(tmp_path: Path) -> Path:
    mirror = tmp_path / "mirror"
    for rel in (f"{AWS}/5.100.0/{providers.os_arch()}/terraform-provider-aws_v5.100.0_x5",
                f"{AWS}/5.90.0/{providers.os_arch()}/terraform-provider-aws_v5.90.0_x5",
                "registry.terraform.io/hashicorp/random/3.6.0/linux_arm64/terraform-provider-random_v3.6.0_x5"):
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(b"\x7fELF not really")
        (mirror / rel).chmod(0o755)
    return mirror


def test_every_provider_a_lock_file_locks_is_read_with_its_version():
    lock = ('# maintained by init\n\nprovider "registry.terraform.io/hashicorp/aws" {\n  version     = "5.100.0"\n'
            '  constraints = "~> 5.60"\n  hashes = [\n    "h1:abc=",\n  ]\n}\n\n'
            'provider "registry.terraform.io/hashicorp/random" {\n  version = "3.6.0"\n}\n')
    assert providers.locked_providers(lock) == [(AWS, "5.100.0"), ("registry.terraform.io/hashicorp/random", "3.6.0")]
    assert providers.locked_providers("# nothing locked\n") == []


def test_the_stub_mirror_has_every_build_of_the_real_one_as_an_empty_file(tmp_path):
    mirror = _mirror(tmp_path)
    stub = providers.stub_mirror(mirror)
    built = sorted(p.relative_to(stub) for p in stub.rglob("*") if p.is_file())
    assert built == sorted(p.relative_to(mirror) for p in mirror.rglob("*") if p.is_file())
    assert all((stub / p).stat().st_size == 0 and os.access(stub / p, os.X_OK) for p in built)
    assert providers.stub_mirror(mirror) == stub  # once per state of the mirror
    extra = mirror / f"{AWS}/5.101.0/{providers.os_arch()}/terraform-provider-aws_v5.101.0_x5"
    extra.parent.mkdir(parents=True)
    extra.write_bytes(b"x")
    renewed = providers.stub_mirror(mirror)
    assert renewed != stub and (renewed / extra.relative_to(mirror)).is_file()


def test_the_locked_build_for_this_host_is_found_and_nothing_else(tmp_path):
    mirror = _mirror(tmp_path)
    found = providers.provider_binary(mirror, AWS, "5.90.0")
    assert found is not None and found.name == "terraform-provider-aws_v5.90.0_x5"
    assert providers.provider_binary(mirror, AWS, "4.0.0") is None
    assert providers.provider_binary(mirror, "hashicorp/aws", "5.90.0") is None  # not a full address
    if providers.os_arch() != "linux_arm64":
        assert providers.provider_binary(mirror, "registry.terraform.io/hashicorp/random", "3.6.0") is None


def test_a_provider_that_never_says_where_to_attach_is_reported_gone(tmp_path, monkeypatch):
    """A build without debug mode (it exits, or prints something else) makes `attach` fail; the
    check then validates cold."""
    fake = tmp_path / "terraform-provider-fake_v1.0.0"
    fake.write_text("#!/bin/sh\necho 'This binary is a plugin. These are not meant to be executed directly.'\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(providers, "START_TIMEOUT_S", 20.0)
    warm = providers.WarmProvider(fake, memory_mb=512)
    try:
        with pytest.raises(providers.ProviderGone):
            warm.attach()
        assert warm.proc is None
    finally:
        warm.close()


def _fake_provider(tmp_path: Path) -> Path:
    """A stand-in that says where to attach, as a provider in debug mode does, then waits."""
    fake = tmp_path / "terraform-provider-fake_v1.0.0"
    fake.write_text("#!/bin/sh\necho \"Provider started. TF_REATTACH_PROVIDERS='{\\\"registry.terraform.io/x/fake\\\":"
                    "{\\\"Protocol\\\":\\\"grpc\\\"}}'\"\nexec sleep 600\n")
    fake.chmod(0o755)
    return fake


def test_the_attach_entry_is_read_from_the_providers_output_and_idle_providers_stop(tmp_path):
    warm = providers.WarmProvider(_fake_provider(tmp_path), memory_mb=256)
    try:
        assert warm.attach() == ("registry.terraform.io/x/fake", {"Protocol": "grpc"})
        pid = warm.proc.pid
        assert warm.attach()[0] == "registry.terraform.io/x/fake" and warm.proc.pid == pid and warm.uses == 2
        warm.stop_if_idle(3600)
        assert warm.proc is not None  # used a moment ago
        warm.stop_if_idle(0)
        assert warm.proc is None
        warm.attach()
        assert warm.proc is not None and warm.proc.pid != pid
    finally:
        warm.close()
    assert not warm.base.exists()


@pytest.mark.parametrize("sandbox", ["bubblewrap where available", "none"])
def test_a_warm_provider_does_not_outlive_the_process_that_started_it(tmp_path, sandbox):
    """Even a process that ends without closing it (killed, or `os._exit`) takes its providers along:
    bubblewrap's --die-with-parent, or the parent-death signal the limits set without it."""
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from services.validators.checks import terraform_providers as p\n"
        f"w = p.warm_provider(Path({str(_fake_provider(tmp_path))!r}), memory_mb=256)\n"
        "w.attach()\n"
        "print(w.proc.pid, flush=True)\n"
        "os._exit(0)\n")
    env = {**os.environ, **({"AMP_SANDBOX": "none"} if sandbox == "none" else {})}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env,
                         cwd=Path(__file__).resolve().parents[3])
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid), f"provider process {pid} outlived its parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _aws_warm():
    binary = providers.provider_binary(MIRROR, AWS, _locked_aws_version())
    assert binary is not None
    return providers.warm_provider(binary, memory_mb=MEMORY_MB, env=GO_ENV)


def _locked_aws_version() -> str:
    versions = sorted((MIRROR / AWS).iterdir(), key=lambda p: [int(x) for x in p.name.split(".") if x.isdigit()])
    return versions[-1].name


def _needs_terraform(files: dict[str, str]):
    result = _result(files)
    if result.status == "skipped":
        pytest.skip(result.reason)
    return result


@pytest.mark.slow
def test_passing_trees_are_validated_by_one_warm_provider_that_is_started_again_when_it_dies():
    files = _files("two-region-ha")
    assert _needs_terraform(files).status == "pass"
    warm = _aws_warm()
    first = warm.proc.pid if warm.proc else None
    assert first is not None, "the passing run did not attach to a warm provider"
    uses = warm.uses
    assert _result(files).status == "pass"
    # one attach for each root: the environments' stack and the bootstrap
    assert warm.proc is not None and warm.proc.pid == first and warm.uses == uses + 2
    os.killpg(first, 9)
    warm.proc.wait()
    result = _result(files)
    assert result.status == "pass" and result.version.startswith("terraform 1.")
    assert warm.proc is not None and warm.proc.pid != first
    warm.stop_if_idle(0.0)  # unused past the idle limit: its memory goes back
    assert warm.proc is None
    assert _result(files).status == "pass" and warm.proc is not None


@pytest.mark.slow
def test_failures_are_the_cold_paths_findings():
    """A constraint no build in the mirror meets fails init, as without warm providers (the warm
    path's stub mirror holds the same versions), and a failed plan test keeps its precise finding."""
    files = _files("fraud-eu-pci")
    _needs_terraform(files)
    pinned = dict(files)
    versions = pinned["infra/versions.tf"]
    assert 'version = "~> 5.' in versions
    pinned["infra/versions.tf"] = versions.replace('version = "~> 5.', 'version = "~> 4.', 1)
    result = _result(pinned)
    assert result.status == "fail"
    assert [f.rule for f in result.findings] == ["terraform-init"] and "~> 4." in result.findings[0].message
    for warm_setting in ("1", "0"):
        os.environ["AMP_TF_WARM_PROVIDERS"] = warm_setting
        try:
            bad = dict(files)
            bad["infra/modules/storage/main.tf"] += '\nresource "aws_s3_bucket" "bad" {\n  no_such_argument = true\n}\n'
            failed = _result(bad)
        finally:
            del os.environ["AMP_TF_WARM_PROVIDERS"]
        assert failed.status == "fail"
        assert any(f.rule == "terraform-validate" and "no_such_argument" in f.message for f in failed.findings)


@pytest.mark.slow
def test_a_pass_is_reused_for_the_same_infrastructure_and_nothing_else():
    """A version whose infra/ is unchanged gets the verdict without a Terraform run; a changed file
    of infra/ runs Terraform again; a failure is never reused."""
    files = _files("two-region-ha")
    assert _needs_terraform(files).status == "pass"  # a fresh run (the helper forgets verdicts)
    warm = _aws_warm()
    uses = warm.uses

    def check(tree: dict[str, str]):
        return validate_tree(tree, checks=CHECK, checkov=False, timeout_s=600).tool("terraform-validate")

    edited = {**files, "README.md": files["README.md"] + "\nedited\n", "services/extra.py": "x = 1\n"}
    again = check(edited)
    assert again.status == "pass" and again.version.startswith("terraform 1.") and warm.uses == uses
    changed = {**files, "infra/outputs.tf": files["infra/outputs.tf"] + '\noutput "extra" {\n  value = 1\n}\n'}
    roots = 2  # a run attaches once for each root: the environments' stack and the bootstrap
    assert check(changed).status == "pass" and warm.uses == uses + roots
    bad = {**files, "infra/outputs.tf": files["infra/outputs.tf"] + '\noutput "broken" {\n  value = var.nope\n}\n'}
    for attempt in (1, 2):
        failed = check(bad)
        assert failed.status == "fail" and warm.uses == uses + roots * (1 + attempt), attempt
        assert any("nope" in f.message for f in failed.findings)
