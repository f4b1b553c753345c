"""The CI service accounts are looked up in the project the bootstrap made them in.

The deploy guide lets the bootstrap live in its own CI project (GCP_CI_PROJECT_ID) beside the
environments' project (GCP_PROJECT_ID), and the workflows sign in to accounts of the CI project, but
the ci_cd module looked its accounts up in the environment's project: with two projects, every plan
failed. The module now reads the CI project, which every plan is given.
"""

from __future__ import annotations

import re

import pytest

from tests.unit.codegen.conftest import PLANS

GCP = sorted(name for name, build in PLANS.items()
             if name.startswith("gcp") and build()[0].component("ci_cd") is not None)


@pytest.mark.parametrize("name", GCP)
def test_the_ci_accounts_are_read_from_the_ci_project_every_plan_names(rendered, name: str) -> None:
    files = rendered[name]
    ci_cd = files["infra/modules/ci_cd/main.tf"]
    lookups = re.findall(r'data "google_service_account" "\w+" \{\n  project\s+= (\S+)', ci_cd)
    assert lookups and set(lookups) == {"var.ci_project_id"}
    assert 'variable "ci_project_id"' in files["infra/variables.tf"]
    plans = [line for path, text in files.items() if path.startswith(".github/workflows/")
             for line in text.splitlines() if line.strip().startswith("terraform plan ")]
    assert plans and all('-var "ci_project_id=${{ vars.GCP_CI_PROJECT_ID }}"' in line for line in plans)
    assert "GCP_CI_PROJECT_ID" in files["docs/README.md"]
