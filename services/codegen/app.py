"""The codegen service: the human gate, approval feedback, and repository generation.

amp.policy.evaluated ──▶ gate_hitl (pause; gate-waiting {gate: pre-codegen, plan, cost, policy})
amp.gate.decided     ──▶ process_approval_feedback ──▶ codegen ──▶ amp.codegen.completed
                                                   ├─▶ (changes) new version ──▶ amp.intake.completed
                                                   └─▶ rejected: run-complete
amp.gate.expire      ──▶ reminder event, or the gate goes stale
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from amp_contracts import (
    CodegenCompleted,
    ConflictError,
    ConstraintSchema,
    CostEstimate,
    Envelope,
    GateExpire,
    GateWaiting,
    IntakeCompleted,
    Plan,
    PolicyResults,
    Risk,
    RunComplete,
    Subjects,
)
from amp_domain.requirements.coverage import check_coverage
from amp_runtime import store
from amp_runtime.agent import Deps, Route, agent_app
from amp_runtime.artifacts import artifact_key
from amp_runtime.bus import publish
from amp_runtime.canonical import canonical_json, sha256_hex
from amp_runtime.cards import card_events, event, forward, stamp_cards
from amp_runtime.graphs import read_graph, resume_graph, run_graph
from amp_runtime.providers import packs_fingerprint
from amp_runtime.settings import Settings
from amp_runtime.step import NewDecisionSet, StepResult
from faststream import FastStream

from .graph import build_graph
from .nodes import warm_up

SERVICE = "codegen"
NODES = {Subjects.POLICY_EVALUATED: "gate_hitl", Subjects.GATE_DECIDED: "process_approval_feedback",
         Subjects.GATE_EXPIRE: "gate_expire"}
log = logging.getLogger("amp.codegen")


def routes(deps: Deps) -> list[Route]:
    warm_up()
    graph = build_graph(deps.checkpointer, deps.providers.orchestration, deps.providers.codegen)
    settings = deps.settings

    async def on_policy(env: Envelope, key: str) -> StepResult:
        p = env.payload
        project = await store.get_project(deps.pool, env.project_id)
        run = await run_graph(graph, env.decision_set_id, SERVICE, {
            "project_name": project["name"], "constraints": p.constraints.model_dump(mode="json"),
            "plan": p.plan.model_dump(mode="json"), "risks": [r.model_dump(mode="json") for r in p.risks],
            "cost": p.cost.model_dump(mode="json"), "policy": p.policy.model_dump(mode="json"), "cards": []})
        expires = env.ts + timedelta(seconds=settings.gate_ttl_s)
        gate = GateWaiting(decision_set_id=env.decision_set_id, gate="pre-codegen", interrupt_id=run.interrupt_id,
                           expires_at=expires, plan=p.plan.model_dump(mode="json"),
                           cost=p.cost.model_dump(mode="json"), policy=p.policy.model_dump(mode="json"))
        return StepResult(events=[event(env, "gate-waiting", "gate_hitl", gate)], checkpoint_id=run.checkpoint_id,
                          ds_update={"status": "waiting_approval", "stage": "gate_hitl",
                                     "gate": gate.model_dump(mode="json"), "gate_expires_at": expires,
                                     "gate_reminded": False})

    async def on_decided(env: Envelope, key: str) -> StepResult:
        p = env.payload
        decision = p.model_dump(mode="json")
        if p.status == "approved":  # the docs' design rationale is built from every card so far
            decision["prior_cards"] = await store.list_reason_cards(deps.pool, env.decision_set_id)
        return await after_gate(env, key, p.interrupt_id, decision)

    async def on_expire(env: Envelope, key: str) -> StepResult:
        p: GateExpire = env.payload
        if p.kind == "reminder":
            ds = await store.get_decision_set(deps.pool, env.decision_set_id)
            if ds["status"] not in ("waiting_approval", "expiring"):
                return StepResult()  # decided before the reminder went out
            return StepResult(events=[event(env, "gate-reminder", "gate_hitl", {
                "decision_set_id": env.decision_set_id, "gate": "pre-codegen",
                "expires_at": ds["gate_expires_at"].isoformat() if ds.get("gate_expires_at") else None})])
        return await after_gate(env, key, p.interrupt_id, {"status": "expired", "by": "system"})

    async def after_gate(env: Envelope, key: str, interrupt_id: str | None, decision: dict) -> StepResult:
        before = len((await read_graph(graph, env.decision_set_id, SERVICE)).values.get("cards") or [])
        run = await resume_graph(graph, env.decision_set_id, SERVICE, interrupt_id, decision)
        v = run.values
        cards = stamp_cards(v.get("cards", [])[before:], key)
        events = card_events(env, cards)
        ds = await store.get_decision_set(deps.pool, env.decision_set_id)
        outcome = v.get("outcome")
        if outcome == "generate":
            files: dict[str, str] = v["files"]
            bundle = canonical_json(files).encode()
            tree_key = await deps.artifacts.put(artifact_key(env.project_id, ds["version"], "tree.json", bundle), bundle)
            msg = CodegenCompleted(
                constraints=ConstraintSchema.model_validate(v["constraints"]), plan=Plan.model_validate(v["plan"]),
                cost=CostEstimate.model_validate(v["cost"]), policy=PolicyResults.model_validate(v["policy"]),
                risks=[Risk.model_validate(r) for r in v.get("risks") or []], tree_key=tree_key,
                files={path: sha256_hex(text) for path, text in sorted(files.items())})
            return StepResult(events=events, checkpoint_id=run.checkpoint_id,
                              messages=[(Subjects.CODEGEN_COMPLETED, forward(env, msg, key=key))],
                              ds_update={"status": "generating", "stage": "codegen", "tree_key": tree_key,
                                         "approval": _public(decision)})
        if outcome in ("rejected", "stale"):
            if outcome == "stale":
                events.append(event(env, "gate-stale", "gate_hitl", {"decision_set_id": env.decision_set_id,
                                                                     "gate": "pre-codegen"}))
            done = RunComplete(decision_set_id=env.decision_set_id, version=ds["version"], status=outcome)
            events.append(event(env, "run-complete", "gate_hitl", done))
            return StepResult(events=events, checkpoint_id=run.checkpoint_id,
                              ds_update={"status": outcome, "stage": "gate_hitl", "approval": _public(decision)})
        # re-plan as the next version, parent = this one
        new_id = str(uuid.uuid5(uuid.UUID(env.decision_set_id), key))
        constraints = ConstraintSchema.model_validate(v["constraints"]).merged(v.get("patch") or {})
        coverage = check_coverage(constraints)
        feedback = [decision.get("comment")] if decision.get("comment") else []
        nd = NewDecisionSet(
            id=new_id, project_id=env.project_id, parent_id=env.decision_set_id, requirements=ds["requirements"],
            input_constraints=ds["input_constraints"] or {},
            columns={"status": "planning", "stage": "planner", "constraints": constraints.model_dump(mode="json"),
                     "coverage": coverage.model_dump(mode="json"), "prompt_pack_hash": packs_fingerprint()})
        new_run = str(uuid.uuid5(uuid.UUID(new_id), "run"))
        msg = IntakeCompleted(constraints=constraints, coverage=coverage, trigger="user_approve", feedback=feedback)
        done = RunComplete(decision_set_id=env.decision_set_id, version=ds["version"], status="superseded",
                           next_decision_set_id=new_id)
        events.extend(event(env, "reason-card", c.node_name, c, decision_set_id=new_id) for c in cards)
        events.append(event(env, "run-complete", "process_approval_feedback", done))
        return StepResult(events=events, checkpoint_id=run.checkpoint_id, new_decision_set=nd,
                          messages=[(Subjects.INTAKE_COMPLETED,
                                     forward(env, msg, decision_set_id=new_id, run_id=new_run, key=key))],
                          ds_update={"status": "superseded", "stage": "process_approval_feedback",
                                     "approval": _public(decision)})

    return [Route(Subjects.POLICY_EVALUATED, NODES[Subjects.POLICY_EVALUATED], on_policy),
            Route(Subjects.GATE_DECIDED, NODES[Subjects.GATE_DECIDED], on_decided),
            Route(Subjects.GATE_EXPIRE, NODES[Subjects.GATE_EXPIRE], on_expire)]


def _public(decision: dict) -> dict:
    return {k: v for k, v in decision.items() if k != "prior_cards"}


async def sweep_gates(deps: Deps) -> None:
    """Publish reminders and expiries of waiting gates.

    Expiry first claims the gate (waiting_approval → expiring), the same conditional transition an
    approval takes, so exactly one of them wins; a claimed gate is re-published until processed
    (de-duplicated by message id and by the step key), so replicas may all sweep.
    """
    s = deps.settings
    while True:
        try:
            for row in await store.due_gates(deps.pool, s.gate_reminder_before_s):
                expiring = row["expired"] or row["status"] == "expiring"
                if not row["gate_reminded"]:  # a reminder always comes before the expiry
                    await _publish_gate(deps, row, "reminder")
                    try:
                        async with deps.pool.acquire() as conn:
                            await store.update_decision_set(conn, row["id"], {"gate_reminded": True},
                                                            expect_status={"waiting_approval", "expiring"})
                    except ConflictError:
                        continue  # decided meanwhile
                if not expiring:
                    continue
                if row["status"] == "waiting_approval":
                    try:
                        async with deps.pool.acquire() as conn:
                            await store.update_decision_set(conn, row["id"], {"status": "expiring"},
                                                            expect_status={"waiting_approval"})
                    except ConflictError:
                        continue  # decided meanwhile
                await _publish_gate(deps, row, "expire")
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed sweep is retried at the next tick
            log.exception("gate sweep failed")
        await asyncio.sleep(s.sweep_interval_s)


async def _publish_gate(deps: Deps, row: dict, kind: str) -> None:
    gate = row.get("gate") or {}
    env = Envelope[GateExpire](project_id=row["project_id"], decision_set_id=row["id"],
                               run_id=str(uuid.uuid5(uuid.UUID(row["id"]), "run")),
                               payload=GateExpire(interrupt_id=gate.get("interrupt_id"), kind=kind))
    await publish(deps.js, Subjects.GATE_EXPIRE, env.model_dump_json().encode(),
                  f"gate-{kind}:{row['id']}:{gate.get('interrupt_id')}")


def create_app(settings: Settings) -> FastStream:
    return agent_app(SERVICE, settings, routes, NODES, background=sweep_gates)


