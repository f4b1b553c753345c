"""The jobs that read an environment's data run where that data may go.

Retraining and the drift check download the lake's data onto the runner of their workflow. Card
and health data, the regimes that audit every system touching it, and a stated residency keep
that data inside the team's scope: there the jobs stop on a hosted runner and say which variable
names the team's own; elsewhere they run on a hosted runner unless that variable says otherwise.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml
from amp_contracts import ConstraintSchema
from amp_domain.compliance import data_stays_in_scope

RUNNER = "${{ vars.TRAINING_RUNNER || 'ubuntu-latest' }}"
READERS = (".github/workflows/retrain.yml", ".github/workflows/drift.yml")


@pytest.mark.parametrize(("fields", "scoped"), [
    ({"data_classification": "pci"}, "PCI DSS (card data)"),
    ({"data_classification": "phi"}, "HIPAA (health data)"),
    ({"compliance": ["fedramp"]}, "FedRAMP"),
    ({"compliance": ["hipaa"], "data_classification": "pii"}, "HIPAA"),
    ({"data_residency": "eea"}, "residency"),
    ({"data_classification": "pii", "compliance": ["gdpr"]}, None),
    ({"data_classification": "confidential", "compliance": ["soc2"]}, None),
    ({}, None),
])
def test_which_data_stays_in_scope(fields: dict, scoped: str | None) -> None:
    reason = data_stays_in_scope(ConstraintSchema(**fields))
    assert (reason is None) if scoped is None else (reason is not None and scoped in reason)


def test_each_rule_is_named_once() -> None:
    reason = data_stays_in_scope(ConstraintSchema(data_classification="pci", compliance=["pci_dss"]))
    assert reason == "PCI DSS (card data)"
    both = data_stays_in_scope(ConstraintSchema(data_classification="phi", compliance=["hipaa", "pci_dss"],
                                                data_residency="us"))
    assert both == "HIPAA (health data), PCI DSS (card data) and data residency (us)"


def _data_jobs(files: dict[str, str]) -> list[dict]:
    return [job for path in READERS if path in files
            for job in yaml.safe_load(files[path])["jobs"].values()]


def _guard(job: dict) -> dict | None:
    first = job["steps"][0]
    return first if "TRAINING_RUNNER" in first.get("env", {}) else None


def _run(script: str, runner: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], env={"PATH": "/usr/bin:/bin", "TRAINING_RUNNER": runner},
                          capture_output=True, text=True, timeout=30, check=False)


def test_data_jobs_run_where_the_team_points_them(rendered, plans):
    checked = 0
    for name, files in rendered.items():
        jobs = _data_jobs(files)
        if not jobs:
            continue
        scope = data_stays_in_scope(plans[name]()[1])
        for job in jobs:
            checked += 1
            assert job["runs-on"] == RUNNER, name
            guard = _guard(job)
            if scope is None:
                assert guard is None, f"{name}: nothing keeps this data in scope, yet the job stops"
                continue
            assert guard is not None, f"{name}: data under {scope} read on whatever runner picks the job up"
            unset = _run(guard["run"], "")
            assert unset.returncode == 1 and "::error::" in unset.stdout and "TRAINING_RUNNER" in unset.stdout
            assert scope in unset.stdout
            assert _run(guard["run"], "self-hosted-eu").returncode == 0
    assert checked >= 8


def test_the_guide_and_compliance_notes_say_the_runner_is_required(rendered, plans):
    seen = set()
    for name, files in rendered.items():
        if ".github/workflows/retrain.yml" not in files:
            assert "TRAINING_RUNNER" not in files["docs/README.md"], name
            continue
        scope = data_stays_in_scope(plans[name]()[1])
        line = next(x for x in files["docs/README.md"].splitlines() if x.startswith("- `TRAINING_RUNNER`"))
        assert ("required" in line) == (scope is not None), name
        if scope is not None:
            seen.add(name)
            assert "`TRAINING_RUNNER`" in files["docs/compliance.md"], name
    assert {"aws_online_pci", "azure_batch_serverless"} <= seen
