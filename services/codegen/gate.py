"""The approval gate: opening it, reminding the reviewer, and letting an undecided gate go stale.

amp.policy.evaluated ──▶ gate_hitl (pause; gate-waiting {gate: pre-codegen, plan, cost, policy})
amp.gate.expire      ──▶ a reminder event, or the expiry (the gate goes stale)
(sweeper)            ──▶ amp.gate.expire, for gates whose reminder or expiry time has come
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from amp_contracts import ConflictError, Envelope, GateExpire, GateWaiting, PolicyEvaluated, Subjects, envelope_of
from amp_runtime import outbox, store
from amp_runtime.agent import Deps
from amp_runtime.bus import publish
from amp_runtime.graphs import run_graph
from amp_runtime.step import Outcome, StepResult, enqueue_events

from .decisions import SERVICE, Codegen, after_gate

log = logging.getLogger("amp.codegen.gate")


async def on_policy(svc: Codegen, env: Envelope[PolicyEvaluated], key: str) -> StepResult:
    p = env.payload
    project = await svc.db.project(env.project_id)
    ds = await svc.db.decision_set(env.decision_set_id, project_id=env.project_id)
    run = await run_graph(svc.graph, env.decision_set_id, SERVICE, {
        "project_id": env.project_id, "project_name": project["name"], "requirements": (ds or {}).get("requirements") or "",
        "constraints": p.constraints, "plan": p.plan, "risks": p.risks,
        "cost": p.cost, "policy": p.policy}, step=key)
    expires = env.ts + timedelta(seconds=svc.settings.gate_ttl_s)
    gate = GateWaiting(decision_set_id=env.decision_set_id, gate="pre-codegen", interrupt_id=run.interrupt_id,
                       expires_at=expires, plan=p.plan.model_dump(mode="json"),
                       cost=p.cost.model_dump(mode="json"), policy=p.policy.model_dump(mode="json"))
    return (Outcome(env, key, svc.packs_fingerprint).event("gate-waiting", "gate_hitl", gate)
            .update(status="waiting_approval", stage="gate_hitl", gate=gate, gate_expires_at=expires,
                    gate_reminded=False)
            .result(run.checkpoint_id))


async def on_expire(svc: Codegen, env: Envelope[GateExpire], key: str) -> StepResult:
    p = env.payload
    if p.kind == "reminder":
        ds = await svc.db.decision_set(env.decision_set_id, project_id=env.project_id)
        if ds["status"] not in ("waiting_approval", "expiring"):
            return StepResult()  # decided before the reminder went out
        return Outcome(env, key).event("gate-reminder", "gate_hitl", {
            "decision_set_id": env.decision_set_id, "gate": "pre-codegen",
            "expires_at": ds["gate_expires_at"].isoformat() if ds.get("gate_expires_at") else None}).result()
    return await after_gate(svc, env, key, p.interrupt_id, {"status": "expired", "by": "system"})


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
                        async with deps.pool.acquire() as conn, conn.transaction():
                            claimed = await store.update_decision_set(conn, row["id"], {"status": "expiring"},
                                                                      expect_status={"waiting_approval"},
                                                                      node="gate_expire")
                            changed = [claimed["transition"]] if claimed["transition"] is not None else []
                            outgoing = await enqueue_events(conn, changed, f"expiring:{row['id']}") if changed else []
                    except ConflictError:
                        continue  # decided meanwhile
                    await outbox.send(deps.pool, deps.js, outgoing, deps.sent_marks)
                await _publish_gate(deps, row, "expire")
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a failed sweep is retried at the next tick
            log.exception("gate sweep failed")
        await asyncio.sleep(s.sweep_interval_s)


async def _publish_gate(deps: Deps, row: dict, kind: str) -> None:
    gate = row.get("gate") or {}
    env = envelope_of(GateExpire)(project_id=row["project_id"], decision_set_id=row["id"],
                               run_id=str(uuid.uuid5(uuid.UUID(row["id"]), "run")),
                               payload=GateExpire(interrupt_id=gate.get("interrupt_id"), kind=kind))
    await publish(deps.js, Subjects.GATE_EXPIRE, env.model_dump_json().encode(),
                  f"gate-{kind}:{row['id']}:{gate.get('interrupt_id')}")
