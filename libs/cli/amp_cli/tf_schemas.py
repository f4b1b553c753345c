"""`amp tf-schemas`: export the provider schemas the generated Terraform is validated against.

A validators host without registry access validates Google Cloud and Azure trees against the
providers' exported schemas (`AMP_TF_PROVIDER_SCHEMAS`, see docs/generated-repository.md). This
command writes them, on a machine where `terraform init` can install the providers (from a
registry, or from whatever mirror the Terraform CLI configuration names), for the versions the
generated trees' constraints select today.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from services.codegen.render_terraform import PROVIDERS
from services.validators.checks.schema_provider import exported_files
from services.validators.checks.terraform_providers import locked_providers

from .errors import ExportError

#: `terraform init` downloads several hundred MB per provider.
TIMEOUT_S = 1800


def configuration(clouds: list[str]) -> str:
    """A configuration needing each cloud's provider at the generated trees' constraint."""
    lines = ["terraform {", "  required_providers {"]
    for cloud in clouds:
        local, source, constraint = PROVIDERS[cloud]
        lines.append(f'    {local} = {{ source = "{source}", version = "{constraint}" }}')
    return "\n".join([*lines, "  }", "}", ""])


def export(terraform: str, clouds: list[str], out: Path) -> list[Path]:
    """Each chosen cloud's provider schema under `out`, in the layout the validators read."""
    with tempfile.TemporaryDirectory(prefix="amp-tf-schemas-") as work:
        (Path(work) / "main.tf").write_text(configuration(clouds), encoding="utf-8")
        for args in (["init", "-input=false", "-no-color"], ["providers", "schema", "-json"]):
            done = subprocess.run([terraform, *args], cwd=work, capture_output=True, timeout=TIMEOUT_S, check=False)
            if done.returncode != 0:
                said = (done.stderr or done.stdout).decode(errors="replace").strip()[-1500:]
                raise ExportError(f"terraform {args[0]} failed:\n{said}")
        document = json.loads(done.stdout)
        locked = locked_providers((Path(work) / ".terraform.lock.hcl").read_text(encoding="utf-8"))
    written = []
    for relative, data in exported_files(document, locked).items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written
