"""What follows a gate's decision: generate the repository, end the version, or re-plan the next one.

approved (no constraint change) ──▶ codegen ──▶ amp.codegen.completed (the tree, content-addressed)
rejected / expired              ──▶ run-complete {rejected | stale}
changes requested / a comment
that changes constraints        ──▶ the next version (parent = this one) ──▶ amp.intake.completed
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from amp_contracts import CodegenCompleted, Envelope, IntakeCompleted, RunComplete, RunCompleted, Subjects
from amp_domain.requirements.coverage import check_coverage
from amp_runtime.artifacts import artifact_key
from amp_runtime.canonical import canonical_json, sha256_hex
from amp_runtime.graphs import resume_graph
from amp_runtime.reader import Reader
from amp_runtime.step import NewDecisionSet, Outcome, StepResult

from .state import Decision

SERVICE = "codegen"


@dataclass
class Codegen:
    """What the gate and decision handlers need."""

    graph: Any
    db: Reader
    artifacts: Any
    settings: Any
    packs_fingerprint: str


def public(decision: Decision) -> dict[str, Any]:
    """The decision as recorded on the decision set (without the cards it carried to the docs)."""
    return {k: ([w.model_dump(mode="json") for w in v] if k == "waivers" else v)
            for k, v in decision.items() if k != "prior_cards"}


async def after_gate(svc: Codegen, env: Envelope, key: str, interrupt_id: str | None, decision: Decision) -> StepResult:
    run = await resume_graph(svc.graph, env.decision_set_id, SERVICE, interrupt_id, decision, step=key)
    v = run.values
    drafts = v.get("cards") or []  # this step's own
    ds = await svc.db.decision_set(env.decision_set_id, project_id=env.project_id)
    out = Outcome(env, key, svc.packs_fingerprint).cards(drafts)
    outcome = v.get("outcome")
    if outcome == "generate":
        files: dict[str, str] = v["files"]
        bundle = canonical_json(files).encode()
        tree_key = await svc.artifacts.put(artifact_key(env.project_id, ds["version"], "tree.json", bundle), bundle)
        msg = CodegenCompleted(constraints=v["constraints"], plan=v["plan"], cost=v["cost"], policy=v["policy"],
                               risks=list(v.get("risks") or []), tree_key=tree_key,
                               files={path: sha256_hex(text) for path, text in sorted(files.items())})
        return (out.send(Subjects.CODEGEN_COMPLETED, msg)
                .update(status="generating", stage="codegen", tree_key=tree_key, approval=public(decision))
                .result(run.checkpoint_id))
    if outcome in ("rejected", "stale"):
        if outcome == "stale":
            out.event("gate-stale", "gate_hitl", {"decision_set_id": env.decision_set_id, "gate": "pre-codegen"})
        out.event("run-complete", "gate_hitl", RunComplete(decision_set_id=env.decision_set_id, version=ds["version"],
                                                            status=outcome))
        out.send(Subjects.RUN_COMPLETED, RunCompleted(version=ds["version"], status=outcome))
        return out.update(status=outcome, stage="gate_hitl", approval=public(decision)).result(run.checkpoint_id)
    # re-plan as the next version, parent = this one
    new_id = str(uuid.uuid5(uuid.UUID(env.decision_set_id), key))
    constraints = v["constraints"].merged(v.get("patch") or {})
    coverage = check_coverage(constraints)
    feedback = [decision["comment"]] if decision.get("comment") else []
    nd = NewDecisionSet(
        id=new_id, project_id=env.project_id, parent_id=env.decision_set_id, requirements=ds["requirements"],
        input_constraints=ds["input_constraints"] or {},
        columns={"status": "planning", "stage": "planner", "constraints": constraints.model_dump(mode="json"),
                 "coverage": coverage.model_dump(mode="json"), "prompt_pack_hash": svc.packs_fingerprint})
    out.cards(drafts, decision_set_id=new_id)
    out.event("run-complete", "process_approval_feedback", RunComplete(
        decision_set_id=env.decision_set_id, version=ds["version"], status="superseded", next_decision_set_id=new_id))
    out.send(Subjects.RUN_COMPLETED, RunCompleted(version=ds["version"], status="superseded"))
    out.send(Subjects.INTAKE_COMPLETED, IntakeCompleted(constraints=constraints, coverage=coverage, trigger="user_approve",
                                                        feedback=feedback),
             decision_set_id=new_id, run_id=str(uuid.uuid5(uuid.UUID(new_id), "run")))
    return (out.update(status="superseded", stage="process_approval_feedback", approval=public(decision))
            .result(run.checkpoint_id, new_decision_set=nd))
