"""A user's edit to the generated repository survives regeneration (three-way merge)."""

from __future__ import annotations

import io
import zipfile

import pytest
from flows import FRAUD, follow, is_gate, waivers_for

pytestmark = pytest.mark.integration


def approve_to_end(client, ds: str) -> dict:
    gate = follow(client, ds, is_gate)[-1][1]
    waivers = waivers_for(gate["policy"], "test", "t")
    client.approve(ds, "approved", "", waivers)
    follow(client, ds, lambda ev, d: ev == "run-complete")
    return client.decision_set(ds)


def test_user_edit_survives_regeneration(client) -> None:
    project = client.create_project("user edits")
    v1 = approve_to_end(client, client.submit(project["id"], FRAUD)["decision_set_id"])
    assert v1["status"] == "completed"
    with zipfile.ZipFile(io.BytesIO(client.artifact(v1["id"]))) as z:
        files = {n: z.read(n).decode() for n in z.namelist()}
    readme = files["README.md"]
    files["README.md"] = readme + "\n## Team notes\n\nOn-call rotation: platform team, weekly.\n"
    files["docs/runbook.md"] = "# Runbook\n\nRestart the serving service with `make deploy`.\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    r = client.http.post(f"{client.base_url}/projects/{project['id']}/repo", content=buf.getvalue(),
                   headers={"Content-Type": "application/zip"}, timeout=60)
    assert r.status_code == 201, r.text
    assert r.json()["base_decision_set_id"] == v1["id"]

    v2 = approve_to_end(client, client.submit(project["id"], FRAUD.replace("$6,000", "$9,000"))["decision_set_id"])
    assert v2["status"] == "completed" and v2["parent_id"] == v1["id"]
    with zipfile.ZipFile(io.BytesIO(client.artifact(v2["id"]))) as z:
        names = set(z.namelist())
        new_readme = z.read("README.md").decode()
        plan = z.read("plan.md").decode()
    assert "docs/runbook.md" in names
    assert "On-call rotation: platform team, weekly." in new_readme
    assert "9,000" in plan  # the regenerated content is there too
    assert v2["diff"]["merge_conflicts"] == []


def test_bad_upload_is_a_clear_error(client) -> None:
    project = client.create_project("bad upload")
    r = client.http.post(f"{client.base_url}/projects/{project['id']}/repo", content=b"not a zip",
                   headers={"Content-Type": "application/zip"})
    assert r.status_code in (404, 422) and r.json()["error"]["code"] in ("not_found", "validation_failed")
