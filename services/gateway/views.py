"""Read models the API returns: rows turned into the documented JSON shapes."""

from __future__ import annotations

from typing import Any, get_args

from amp_contracts import CAPABILITY_LABELS, FIELD_LABELS, NODES, PIPELINE, STAGES, lifecycle
from amp_contracts.events import EventType
from amp_domain.labels import pattern_names
from amp_runtime.telemetry import trace_id_of

DS_PUBLIC = ("id", "project_id", "version", "parent_id", "status", "stage", "requirements", "input_constraints",
             "constraints", "coverage", "assumptions", "plan", "risks", "cost", "policy", "gate", "approval",
             "reports", "diff", "git_commit", "prompt_pack_hash", "gate_expires_at", "created_at", "updated_at")


def decision_set(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row.get(k) for k in DS_PUBLIC}
    out["decision_set_id"] = row["id"]
    out["trace_id"] = trace_id_of(row.get("traceparent"))  # what to hand an operator
    out["links"] = {
        "self": f"/decision-sets/{row['id']}", "stream": f"/streams/{row['id']}",
        "events": f"/decision-sets/{row['id']}/events", "diff": f"/decision-sets/{row['id']}/diff",
        "artifact": f"/decision-sets/{row['id']}/artifact" if row.get("artifact_key") else None,
    }
    return out


def project(row: dict[str, Any], decision_sets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out = {k: row.get(k) for k in ("id", "name", "description", "created_at", "owner_id", "role")}
    out["four_eyes"] = bool(row.get("four_eyes"))
    policies = row.get("policies") or {}
    out["policies"] = policies if isinstance(policies, dict) else {"rules": policies, "waivers": []}
    out["version_count"] = row.get("ds_count", 0)
    if decision_sets is not None:
        out["decision_sets"] = decision_sets
    return out


def pipeline_view() -> dict[str, Any]:
    """What the web page labels its timeline with: the same table the services subscribe from."""
    return {"stages": [s.model_dump() for s in STAGES], "nodes": [n.model_dump() for n in NODES],
            "event_types": list(get_args(EventType)),
            "labels": {"fields": FIELD_LABELS, "capabilities": CAPABILITY_LABELS, "patterns": pattern_names()},
            "steps": [s.model_dump() for s in PIPELINE],
            "statuses": [{"status": str(st), "label": lifecycle.LABELS[st], "terminal": st in lifecycle.TERMINAL,
                          "next": sorted(str(t) for t in lifecycle.TRANSITIONS[st])} for st in lifecycle.Status]}
