"""Each service's handlers, run directly: an envelope in, a step result out.

No bus and no database: the handlers read through an in-memory `Reader`, their graphs checkpoint
in LangGraph's in-memory saver (with the platform's restricted serializer) and the rules answer
every question. What a step's result becomes on the bus and in Postgres is the step protocol's
job, tested against the real servers in tests/integration.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from amp_contracts import (
    CodegenCompleted,
    ConstraintSchema,
    Coverage,
    CritiqueCompleted,
    Envelope,
    GateDecided,
    GateExpire,
    IntakeAnswered,
    IntakeCompleted,
    IntakeRequested,
    PlanProposed,
    PlanRevise,
    PolicyEvaluated,
    Subjects,
)
from amp_runtime.artifacts import LocalArtifactStore
from amp_runtime.graphs import read_graph, serializer
from amp_runtime.settings import Settings
from amp_runtime.step import StepResult
from langgraph.checkpoint.memory import InMemorySaver

from services.codegen import app as codegen_app
from services.codegen import gate as codegen_gate
from services.codegen.decisions import Codegen
from services.codegen.graph import build_graph as codegen_graph
from services.critics import app as critics_app
from services.critics.graph import build_graph as critics_graph
from services.intake import app as intake_app
from services.intake.graph import build_graph as intake_graph
from services.planner import app as planner_app
from services.planner.graph import build_graph as planner_graph
from services.policy import app as policy_app
from services.policy.graph import build_graph as policy_graph
from tests.fakes.memory_reader import MemoryReader

FRAUD = ("Real-time card fraud scoring API on AWS eu-west-1: p95 under 80 ms at 3,000 requests per second, "
         "99.9% availability, budget $6,000 per month. Internal transaction data, GDPR. Containers. Retrain weekly.")
FP = "packs-test"


def saver() -> InMemorySaver:
    return InMemorySaver(serde=serializer())


def envelope(reader: MemoryReader, ds: str, payload: Any) -> Envelope:
    row = reader.decision_sets[ds]
    return Envelope[type(payload)](project_id=row["project_id"], decision_set_id=ds,
                                   run_id=str(uuid.uuid5(uuid.UUID(ds), "run")), payload=payload)


def only(result: StepResult, subject: str) -> Envelope:
    sent = [env for s, env in result.messages if s == subject]
    assert len(sent) == 1, [s for s, _ in result.messages]
    return sent[0]


def types(result: StepResult) -> list[str]:
    return [e.type for e in result.events]


@pytest.fixture()
def world(tmp_path):
    reader = MemoryReader()
    pid = reader.add_project()
    ds = reader.add_decision_set(pid, requirements=FRAUD)
    codegen = Codegen(graph=codegen_graph(saver()), db=reader, artifacts=LocalArtifactStore(tmp_path),
                      settings=Settings(gate_ttl_s=3600), packs_fingerprint=FP)
    return {
        "reader": reader, "ds": ds, "codegen": codegen,
        "intake": intake_app.Intake(graph=intake_graph(saver()), packs_fingerprint=FP),
        "planner": planner_app.Planner(graph=planner_graph(saver()), packs_fingerprint=FP),
        "critics": critics_app.Critics(graph=critics_graph(saver()), db=reader, packs_fingerprint=FP),
        "policy": policy_app.Policy(graph=policy_graph(saver()), db=reader, packs_fingerprint=FP),
    }


async def to_the_gate(w: dict) -> StepResult:
    """intake → planner → critics (→ planner again if the critic asks) → policy → the gate."""
    reader, ds = w["reader"], w["ds"]
    res = await intake_app.on_requested(w["intake"], envelope(reader, ds, IntakeRequested(text=FRAUD)), "k-intake")
    msg = only(res, Subjects.INTAKE_COMPLETED)
    res = await planner_app.on_intake(w["planner"], msg, "k-plan")
    msg = only(res, Subjects.PLAN_PROPOSED)
    for round_ in range(4):
        res = await critics_app.on_plan(w["critics"], msg, f"k-critic-{round_}")
        if res.messages[0][0] == Subjects.CRITIQUE_COMPLETED:
            break
        res = await planner_app.on_revise(w["planner"], only(res, Subjects.PLAN_REVISE), f"k-revise-{round_}")
        msg = only(res, Subjects.PLAN_PROPOSED)
    res = await policy_app.on_critique(w["policy"], only(res, Subjects.CRITIQUE_COMPLETED), "k-policy")
    return await codegen_gate.on_policy(w["codegen"], only(res, Subjects.POLICY_EVALUATED), "k-gate")


async def test_intake_completes_a_covered_requirement_and_says_so(world) -> None:
    env = envelope(world["reader"], world["ds"], IntakeRequested(text=FRAUD))
    res = await intake_app.on_requested(world["intake"], env, "k1")
    done: IntakeCompleted = only(res, Subjects.INTAKE_COMPLETED).payload
    assert done.constraints.cloud == "aws" and done.constraints.regions == ["eu-west-1"]
    assert res.ds_update["status"] == "planning" and res.ds_update["prompt_pack_hash"] == FP
    cards = [e.data for e in res.events if e.type == "reason-card"]
    assert cards and all(c["prompt_pack_hash"] == FP for c in cards)
    assert "intake-update" in types(res)


async def test_intake_asks_then_resumes_with_the_answers(world) -> None:
    reader, ds = world["reader"], world["ds"]
    res = await intake_app.on_requested(world["intake"], envelope(reader, ds, IntakeRequested(text="I need an ML model for churn")),
                                        "k1")
    assert res.messages == [] and res.ds_update["status"] == "waiting_intake"
    gate = next(e.data for e in res.events if e.type == "gate-waiting")
    asked = {q["field"] for q in gate["questions"]}
    assert {"regions", "data_classification"} & asked
    answers = {"cloud": "gcp", "regions": ["europe-west4"], "data_classification": "pii", "budget_monthly_usd": 900,
               "workload_types": ["batch"]}
    res = await intake_app.on_answered(world["intake"], envelope(reader, ds, IntakeAnswered(
        interrupt_id=gate["interrupt_id"], answers={k: v for k, v in answers.items() if k in asked} | answers)), "k2")
    done: IntakeCompleted = only(res, Subjects.INTAKE_COMPLETED).payload
    assert done.constraints.regions == ["europe-west4"] and done.trigger == "user_answer"


async def test_the_chain_reaches_the_gate_with_plan_cost_and_policy(world) -> None:
    res = await to_the_gate(world)
    assert res.messages == [] and res.ds_update["status"] == "waiting_approval"
    gate = next(e.data for e in res.events if e.type == "gate-waiting")
    assert gate["gate"] == "pre-codegen" and gate["plan"]["cloud"] == "aws"
    assert gate["cost"]["monthly_usd"] > 0 and gate["policy"]["overall"] in ("pass", "warn", "fail")


async def test_the_critic_sends_a_plan_back_when_an_alternative_removes_a_risk(world) -> None:
    reader, ds = world["reader"], world["ds"]
    c = ConstraintSchema(cloud="aws", regions=["us-east-1"], workload_types=["online"], sla_latency_ms=15,
                         throughput_rps=20000, deployment_pref="serverless", data_classification="internal",
                         budget_monthly_usd=50000)
    cov = Coverage(score=1.0, threshold=0.7, passed=True)
    res = await planner_app.on_intake(world["planner"], envelope(reader, ds, IntakeCompleted(constraints=c, coverage=cov)),
                                      "k1")
    proposed: PlanProposed = only(res, Subjects.PLAN_PROPOSED).payload
    res = await critics_app.on_plan(world["critics"], envelope(reader, ds, proposed), "k2")
    subject, msg = res.messages[0]
    if subject == Subjects.PLAN_REVISE:
        revise: PlanRevise = msg.payload
        assert revise.risks and all(r.replan for r in revise.risks) and revise.round == proposed.plan.round + 1
        assert res.ds_update["stage"] == "planner" and "cost-update" not in types(res)
    else:  # no alternative removes the risks: the costed critique goes on, the risks carry probes
        critique: CritiqueCompleted = msg.payload
        assert critique.risks and all(r.probe for r in critique.risks)


async def test_policy_applies_the_projects_rule_pack_and_its_waivers(world) -> None:
    reader, ds = world["reader"], world["ds"]
    pid = reader.decision_sets[ds]["project_id"]
    gate = next(e.data for e in (await to_the_gate(world)).events if e.type == "gate-waiting")
    critique = CritiqueCompleted(constraints=ConstraintSchema(cloud="aws", regions=["eu-west-1"]),
                                 plan=gate["plan"], risks=[], cost=gate["cost"])
    always_fails = {"id": "house_rule", "control": "HR-1", "otherwise": {"status": "fail", "detail": "never allowed"}}

    reader.projects[pid]["policies"] = {"rules": [always_fails], "waivers": []}
    res = await policy_app.on_critique(world["policy"], envelope(reader, ds, critique), "k-policy-a")
    evaluated: PolicyEvaluated = only(res, Subjects.POLICY_EVALUATED).payload
    assert {r.id: r.status for r in evaluated.policy.rules}["house_rule"] == "fail"
    assert evaluated.policy.overall == "fail" and "policy-update" in types(res)

    reader.projects[pid]["policies"] = {"rules": [always_fails],
                                        "waivers": [{"rule_id": "house_rule", "reason": "accepted", "by": "owner"}]}
    res = await policy_app.on_critique(world["policy"], envelope(reader, ds, critique), "k-policy-b")
    evaluated = only(res, Subjects.POLICY_EVALUATED).payload
    house = {r.id: r for r in evaluated.policy.rules}["house_rule"]
    assert house.status == "fail" and house.waived and "waived by owner" in (house.waiver_reason or "")


async def test_approval_generates_the_repository_as_a_content_addressed_tree(world) -> None:
    reader, ds = world["reader"], world["ds"]
    gate = next(e.data for e in (await to_the_gate(world)).events if e.type == "gate-waiting")
    # the project's id names what is unique across a cloud (services.codegen.cicd_names.project_digest)
    paused = await read_graph(world["codegen"].graph, ds, "codegen")
    assert paused.values["project_id"] == reader.decision_sets[ds]["project_id"]
    res = await codegen_app.on_decided(world["codegen"], envelope(reader, ds, GateDecided(
        interrupt_id=gate["interrupt_id"], status="approved", by="reviewer")), "k-decide")
    done: CodegenCompleted = only(res, Subjects.CODEGEN_COMPLETED).payload
    assert done.tree_key and "README.md" in done.files and any(p.startswith("infra/") for p in done.files)
    assert res.ds_update["status"] == "generating" and res.ds_update["approval"]["by"] == "reviewer"
    assert await world["codegen"].artifacts.exists(done.tree_key)


async def test_changes_requested_start_the_next_version_and_supersede_this_one(world) -> None:
    reader, ds = world["reader"], world["ds"]
    gate = next(e.data for e in (await to_the_gate(world)).events if e.type == "gate-waiting")
    res = await codegen_app.on_decided(world["codegen"], envelope(reader, ds, GateDecided(
        interrupt_id=gate["interrupt_id"], status="changes_requested", comment="use eu-central-1 instead")), "k-d")
    nxt = only(res, Subjects.INTAKE_COMPLETED)
    assert res.new_decision_set is not None and nxt.decision_set_id == res.new_decision_set.id != ds
    assert nxt.payload.constraints.regions == ["eu-central-1"] and res.ds_update["status"] == "superseded"
    assert only(res, Subjects.RUN_COMPLETED).payload.status == "superseded"
    done = [e for e in res.events if e.type == "run-complete"]
    assert [e.data["status"] for e in done] == ["superseded"] and types(res)[-1] == "run-complete"


@pytest.mark.parametrize(("decision", "status"), [("rejected", "rejected"), ("expired", "stale")])
async def test_a_rejected_or_expired_gate_ends_the_version(world, decision, status) -> None:
    reader, ds = world["reader"], world["ds"]
    gate = next(e.data for e in (await to_the_gate(world)).events if e.type == "gate-waiting")
    if decision == "rejected":
        res = await codegen_app.on_decided(world["codegen"], envelope(reader, ds, GateDecided(
            interrupt_id=gate["interrupt_id"], status="rejected", comment="not now")), "k-d")
    else:
        res = await codegen_gate.on_expire(world["codegen"], envelope(reader, ds, GateExpire(
            interrupt_id=gate["interrupt_id"], kind="expire")), "k-e")
    ended = only(res, Subjects.RUN_COMPLETED).payload  # subscribers hear of every ending, not only completions
    assert ended.status == status and len(res.messages) == 1 and res.ds_update["status"] == status
    assert types(res)[-1] == "run-complete"


async def test_a_reminder_after_the_decision_says_nothing(world) -> None:
    reader, ds = world["reader"], world["ds"]
    reader.decision_sets[ds]["status"] = "generating"
    res = await codegen_gate.on_expire(world["codegen"], envelope(reader, ds, GateExpire(kind="reminder")), "k-r")
    assert res.events == [] and res.messages == [] and res.ds_update == {}
    reader.decision_sets[ds]["status"] = "waiting_approval"
    res = await codegen_gate.on_expire(world["codegen"], envelope(reader, ds, GateExpire(kind="reminder")), "k-r2")
    assert types(res) == ["gate-reminder"]


# --- a step run again before its commit (the process died after the checkpoint was written) ------

def cards(result: StepResult) -> list[dict]:
    """The step's Reason Cards without the time they were recorded at (set by the commit)."""
    return [{k: v for k, v in e.data.items() if k != "ts"} for e in result.events if e.type == "reason-card"]


async def test_a_step_run_again_after_its_checkpoint_gives_the_same_cards_once(world) -> None:
    """The redelivered step finds its own finished run in the checkpoint: the same cards, ids and
    checkpoint; a later step on the same thread carries none of the earlier step's cards."""
    reader, ds = world["reader"], world["ds"]
    env = envelope(reader, ds, IntakeRequested(text=FRAUD))
    first = await intake_app.on_requested(world["intake"], env, "k1")
    again = await intake_app.on_requested(world["intake"], env, "k1")
    assert cards(first) and cards(again) == cards(first)
    assert again.checkpoint_id == first.checkpoint_id, "the rerun ran the graph again"
    plan = only(await planner_app.on_intake(world["planner"], only(first, Subjects.INTAKE_COMPLETED), "k2"),
                Subjects.PLAN_PROPOSED)
    round1 = await critics_app.on_plan(world["critics"], plan, "k3")
    round1_again = await critics_app.on_plan(world["critics"], plan, "k3")
    round2 = await critics_app.on_plan(world["critics"], plan, "k4")  # the same plan as a later step
    assert cards(round1) and cards(round1_again) == cards(round1)
    assert len(cards(round2)) == len(cards(round1))
    assert [c["summary"] for c in cards(round2)] == [c["summary"] for c in cards(round1)]


async def test_an_answer_or_approval_run_again_keeps_its_cards(world) -> None:
    """A resumed pause moved the graph on before the step was recorded: the rerun takes that run's
    cards (they were lost when the rerun counted cards from the moved-on checkpoint)."""
    reader, ds = world["reader"], world["ds"]
    res = await intake_app.on_requested(world["intake"], envelope(reader, ds, IntakeRequested(
        text="I need an ML model for churn")), "k1")
    gate = next(e.data for e in res.events if e.type == "gate-waiting")
    answered = envelope(reader, ds, IntakeAnswered(interrupt_id=gate["interrupt_id"], answers={
        "cloud": "gcp", "regions": ["europe-west4"], "data_classification": "pii", "budget_monthly_usd": 900,
        "workload_types": ["batch"]}))
    first = await intake_app.on_answered(world["intake"], answered, "k2")
    again = await intake_app.on_answered(world["intake"], answered, "k2")
    assert cards(first) and cards(again) == cards(first)
    assert not {c["decision_id"] for c in cards(first)} & {c["decision_id"] for c in cards(res)}

    pause = next(e.data for e in (await to_the_gate(world)).events if e.type == "gate-waiting")
    decided = envelope(reader, ds, GateDecided(interrupt_id=pause["interrupt_id"], status="approved", by="reviewer"))
    first = await codegen_app.on_decided(world["codegen"], decided, "k-decide")
    again = await codegen_app.on_decided(world["codegen"], decided, "k-decide")
    assert {c["node_name"] for c in cards(first)} == {"process_approval_feedback", "codegen"}
    assert cards(again) == cards(first)
    assert only(again, Subjects.CODEGEN_COMPLETED).payload.tree_key == only(first, Subjects.CODEGEN_COMPLETED).payload.tree_key
    late = await codegen_gate.on_expire(world["codegen"], envelope(reader, ds, GateExpire(
        interrupt_id=pause["interrupt_id"], kind="expire")), "k-late")  # the pause was resumed by the approval
    assert cards(late) == []
