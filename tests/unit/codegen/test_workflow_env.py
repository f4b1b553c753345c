"""Every `${{ env.X }}` an action's inputs read is set where the job runs.

The Azure deploy workflow's build job signed in with `client-id: ${{ env.ARM_CLIENT_ID }}` while
only the later jobs set ARM_CLIENT_ID: `azure/login` got an empty client id, no image was pushed
and nothing after it ran. An action's `with:` inputs see the workflow's, the job's and the step's
`env` (and what an earlier step of the job wrote to $GITHUB_ENV); each reference must resolve there.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.unit.codegen.conftest import PLANS

_ENV_REF = re.compile(r"\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_GITHUB_ENV = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)=[^\n]*>>\s*\"?\$GITHUB_ENV")


def _unresolved(workflow: dict) -> list[tuple[str, str, str]]:
    top = set((workflow.get("env") or {}).keys())
    missing = []
    for job_id, job in (workflow.get("jobs") or {}).items():
        if "uses" in job:  # a reusable workflow's call: its own file is checked
            continue
        known = top | set((job.get("env") or {}).keys())
        for step in job.get("steps") or []:
            step_known = known | set((step.get("env") or {}).keys())
            for value in (step.get("with") or {}).values():
                for name in _ENV_REF.findall(str(value)):
                    if name not in step_known:
                        missing.append((job_id, step.get("name") or step.get("uses", ""), name))
            known |= set(_GITHUB_ENV.findall(str(step.get("run") or "")))
    return missing


@pytest.mark.parametrize("name", sorted(PLANS))
def test_every_env_an_action_reads_is_set_for_its_job(rendered, name: str) -> None:
    workflows = {p: t for p, t in rendered[name].items() if p.startswith(".github/workflows/")}
    assert workflows
    missing = {path: found for path, text in workflows.items() if (found := _unresolved(yaml.safe_load(text)))}
    assert not missing, missing


def test_the_rule_finds_a_job_without_the_variable() -> None:
    workflow = {"env": {"A": "1"}, "jobs": {"build": {"steps": [
        {"uses": "azure/login@v2", "with": {"client-id": "${{ env.ARM_CLIENT_ID }}", "tenant": "${{ env.A }}"}},
        {"run": 'echo "LATER=1" >> "$GITHUB_ENV"'},
        {"uses": "x/y@v1", "with": {"v": "${{ env.LATER }}"}}]}}}
    assert _unresolved(workflow) == [("build", "azure/login@v2", "ARM_CLIENT_ID")]
