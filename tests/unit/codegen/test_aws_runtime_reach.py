"""AWS modules let the code they run reach what it uses: the metrics namespace, the lake's key, S3.

The serving code writes CloudWatch's embedded metric format under `METRICS_NAMESPACE` (`model`
when unset) and the monitoring module's alarms read `<name_prefix>/model`: a serving module that
does not hand its containers that namespace leaves every serving alarm without data. Each AWS
serving module the catalog builds either sets the variable on its containers or outputs the value
for the deploy workflow to set (a Kubernetes Deployment).
"""

from __future__ import annotations

import re

from amp_domain.catalog import load_catalog

from services.codegen.render_text import TEMPLATES

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
