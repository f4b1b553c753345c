"""AWS modules let the code they run reach what it uses: the metrics namespace, the lake's key, S3.

The serving code writes CloudWatch's embedded metric format under `METRICS_NAMESPACE` (`model`
when unset) and the monitoring module's alarms read `<name_prefix>/model`: a serving module that
does not hand its containers that namespace leaves every serving alarm without data. Each AWS
serving module the catalog builds either sets the variable on its containers or outputs the value
for the deploy workflow to set (a Kubernetes Deployment).
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path

import pytest
from amp_domain.catalog import load_catalog

from services.codegen.render_text import TEMPLATES
from services.validators.checks.terraform_validate import terraform_binary

MODULES = TEMPLATES / "terraform" / "aws" / "modules"
_NAMESPACE = re.compile(r'^\s*namespace\s*=\s*(".*")$', re.MULTILINE)
_SET = re.compile(r'METRICS_NAMESPACE"?\s*[=,]\s*(?:value\s*=\s*)?(".*?")')
_OUTPUT = re.compile(r'^output "metrics_namespace" \{\n(?:  .*\n)*?  value\s*=\s*(".*")$', re.MULTILINE)


def _watched() -> str:
    found = _NAMESPACE.findall((MODULES / "monitoring.tf").read_text(encoding="utf-8"))
    assert len(found) == 1, found
    return found[0]


def _serving_modules() -> list[str]:
    return sorted({p.module for p in load_catalog("aws").patterns
                   if p.capability == "serving_online" and p.buildable and p.module})


def test_every_serving_module_hands_its_containers_the_watched_namespace():
    watched = _watched()
    modules = _serving_modules()
    assert len(modules) >= 3
    wrong = {}
    for module in modules:
        text = (MODULES / f"{module}.tf").read_text(encoding="utf-8")
        given = _SET.findall(text) + _OUTPUT.findall(text)
        if given != [watched]:
            wrong[module] = given
    assert not wrong, f"alarms read {watched}; serving modules give {wrong}"


def test_the_rule_fails_a_module_that_sets_nothing():
    text = (MODULES / "serving_online@containers.tf").read_text(encoding="utf-8")
    stripped = "\n".join(line for line in text.splitlines() if "METRICS_NAMESPACE" not in line)
    assert _SET.findall(text) == [_watched()]
    assert not _SET.findall(stripped) and not _OUTPUT.findall(stripped)


def test_every_role_reading_the_lake_may_use_its_key():
    """With a customer-managed key (PCI, HIPAA) the lake's objects are encrypted with it: a role that
    reads or writes them without kms:Decrypt fails on its first object (SageMaker training did)."""
    missing = []
    for path in sorted(MODULES.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        if "s3:GetObject" in text and "var.kms_key_arn" in text and "kms:Decrypt" not in text:
            missing.append(path.name)
    assert not missing, missing


def test_the_workloads_security_group_reaches_s3_through_its_gateway():
    """Lambda, SageMaker and Flink in the private network get the endpoints' group; its egress named
    the VPC's range only, and S3's gateway endpoint answers at S3's own addresses (a prefix list), so
    no model or lake object could be read from inside the network."""
    text = (MODULES / "networking_private.tf").read_text(encoding="utf-8")
    output = re.search(r'output "security_group_id" \{\n.*\n  value\s+= aws_security_group\.(\w+)\.id', text)
    assert output
    group = text.split(f'resource "aws_security_group" "{output.group(1)}" {{', 1)[1].split("\n}\n", 1)[0]
    egress = re.findall(r"  egress \{\n(.*?)\n  \}", group, re.DOTALL)
    assert any("prefix_list_ids = [aws_vpc_endpoint.s3.prefix_list_id]" in e and "from_port       = 443" in e
               for e in egress), egress


def _flink_conditions() -> tuple[str, str, str]:
    """(the module's locals, when it joins the VPC, when it reads a Kinesis stream), as written."""
    text = (MODULES / "stream_processing@flink.tf").read_text(encoding="utf-8")
    locals_block = re.search(r"^locals \{\n.*?\n\}\n", text, re.MULTILINE | re.DOTALL)
    in_vpc = re.search(r'dynamic "vpc_configuration" \{\n\s*for_each = (.+?) \? ', text)
    reads = re.search(r"\], (.+?) \? \[\{\n\s*Effect\s*= \"Allow\"\n\s*Action\s*= \[\"kinesis:", text)
    assert locals_block and in_vpc and reads
    return locals_block.group(0), in_vpc.group(1), reads.group(1)


def test_flink_reading_kinesis_stays_out_of_the_private_subnets(tmp_path: Path):
    """The private network reaches S3 (gateway) and seven interface endpoints, none of them Kinesis,
    and has no NAT: a Flink application placed in its subnets could never read a Kinesis stream. It
    joins them only for MSK's brokers; Terraform evaluates the module's own conditions for every
    wiring."""
    terraform = terraform_binary()
    if terraform is None:
        pytest.skip("the Terraform CLI is not installed")
    endpoints = (MODULES / "networking_private.tf").read_text(encoding="utf-8")
    assert '"kinesis-streams"' not in endpoints and "aws_nat_gateway" not in endpoints
    locals_block, in_vpc, reads = _flink_conditions()
    flags = ("wired_subnet_ids", "wired_stream_arn", "wired_stream_topic")
    cases = {"-".join(str(int(v)) for v in values): dict(zip(flags, values, strict=True))
             for values in itertools.product([False, True], repeat=3)}
    module = tmp_path / "flink"
    module.mkdir()
    (module / "main.tf").write_text(
        "".join(f'variable "{f}" {{ type = bool }}\n' for f in flags)
        + 'variable "data_bucket_name" { default = null }\nvariable "model_uri" { default = null }\n'
        + 'variable "name_prefix" { default = "p" }\nvariable "subnet_ids" { default = ["s"] }\n'
        + locals_block + f"output \"in_vpc\" {{\n  value = {in_vpc}\n}}\noutput \"reads\" {{\n  value = {reads}\n}}\n",
        encoding="utf-8")
    (tmp_path / "main.tf").write_text(
        f"locals {{\n  cases = jsondecode({json.dumps(json.dumps(cases))})\n}}\n"
        'module "flink" {\n  source = "./flink"\n  for_each = local.cases\n'
        + "".join(f"  {f} = each.value.{f}\n" for f in flags)
        + '}\noutput "cases" {\n  value = { for k, m in module.flink : k => [m.in_vpc, m.reads] }\n}\n',
        encoding="utf-8")
    for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
        done = subprocess.run([terraform, *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    shown = json.loads(subprocess.run([terraform, "output", "-json", "cases"], cwd=tmp_path, check=True,
                                      capture_output=True, timeout=120).stdout)
    assert len(shown) == 8
    both = sorted(case for case, (vpc, kinesis) in shown.items() if vpc and kinesis)
    assert not both, f"(subnets, stream, topic) wired as {both}: in the VPC and reading Kinesis"
    # MSK's brokers answer only inside the VPC: with the private network wired the application joins it.
    assert shown["1-1-1"] == [True, False] and shown["1-1-0"] == [False, True]
