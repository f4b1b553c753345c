"""The pipeline, written down once: which service consumes which subject, runs which nodes, publishes what.

Everything that needs the order reads it from here: each service subscribes to the subjects of
its rows, the AsyncAPI document lists them, the CLI's stage list and the web page's timeline
labels are derived from the stages (the gateway serves them at `GET /pipeline`). Adding a node
to the pipeline is its service's files plus a row here.

    gateway ──intake.requested──▶ intake ──intake.completed──▶ planner ──plan.proposed──▶ critics
                                  ▲  │ (questions: gate-waiting)   ▲  ◀──plan.revise─────┘ │
    gateway ──intake.answered─────┘  ▼                             │              critique.completed
                                                                   │                      ▼
    gateway ──gate.decided──▶ codegen ◀──policy.evaluated──────────┼─────────────────── policy
                              │  changes requested: next version ──┘ (intake.completed)
                              └──codegen.completed──▶ validators ──run.completed──▶ subscribers

Every step also publishes its events (one EventBatch) on `amp.events.<decision_set_id>`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .bus import Subjects


class Node(BaseModel):
    """A node of a service's LangGraph subgraph, as people see it."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    stage: str


class Stage(BaseModel):
    """A stage of progress a person follows (the CLI's live list, the page's timeline groups)."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str


class Step(BaseModel):
    """One row of the pipeline: a subject, the service that consumes it and what that step does.

    `node` names the step (its idempotency key, its `agent_runs` row, its dead-letter card);
    `runs` are the subgraph nodes it may run, in order; `publishes` the subjects it may send on;
    `waits_for` the subjects that continue it after a pause (a person's answer or decision, which
    the gateway publishes, or the gate sweeper's expiry).
    """

    model_config = ConfigDict(frozen=True)

    subject: str
    service: str
    node: str
    runs: tuple[str, ...]
    publishes: tuple[str, ...] = ()
    waits_for: tuple[str, ...] = ()
    summary: str = ""


class ModelCall(BaseModel):
    """A question a node may put to a model: its configuration key and its prompt pack.

    `AMP_PROVIDER_<NAME>` / `AMP_MODEL_<NAME>` configure it. A call that writes code never falls
    back to the rules when models are down (a template default is no answer to a code request).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    service: str
    pack: str
    writes_code: bool = False


STAGES: tuple[Stage, ...] = (
    Stage(name="intake", label="intake"),
    Stage(name="coverage", label="coverage"),
    Stage(name="planner", label="planner"),
    Stage(name="critic_tech", label="critic: tech"),
    Stage(name="critic_cost", label="critic: cost"),
    Stage(name="policy", label="policy"),
    Stage(name="gate", label="approval gate"),
    Stage(name="codegen", label="codegen"),
    Stage(name="validators", label="validators"),
    Stage(name="rationale", label="rationale"),
    Stage(name="persist", label="diff & persist"),
)

NODES: tuple[Node, ...] = (
    Node(name="intake_extract", label="Intake", stage="intake"),
    Node(name="coverage_check", label="Coverage", stage="coverage"),
    Node(name="adaptive_questions", label="Questions", stage="coverage"),
    Node(name="gate_user_input", label="Waiting for answers", stage="coverage"),
    Node(name="apply_answers", label="Answers", stage="coverage"),
    Node(name="finalize", label="Constraints complete", stage="coverage"),
    Node(name="planner", label="Planner", stage="planner"),
    Node(name="planner_revise", label="Planner (revision)", stage="planner"),
    Node(name="critic_tech", label="Tech critic", stage="critic_tech"),
    Node(name="critic_cost", label="Cost critic", stage="critic_cost"),
    Node(name="policy_eval", label="Policy", stage="policy"),
    Node(name="gate_hitl", label="Approval gate", stage="gate"),
    Node(name="gate_expire", label="Gate expiry", stage="gate"),
    Node(name="process_approval_feedback", label="Approval feedback", stage="gate"),
    Node(name="codegen", label="Codegen", stage="codegen"),
    Node(name="merge_user_edits", label="Your edits merged", stage="validators"),
    Node(name="validators", label="Validators", stage="validators"),
    Node(name="rationale_compile", label="Rationale", stage="rationale"),
    Node(name="diff_and_persist", label="Diff & persist", stage="persist"),
)

PIPELINE: tuple[Step, ...] = (
    Step(subject=Subjects.INTAKE_REQUESTED, service="intake", node="intake_extract",
         runs=("intake_extract", "coverage_check", "adaptive_questions", "gate_user_input", "finalize"), publishes=(Subjects.INTAKE_COMPLETED,),
         waits_for=(Subjects.INTAKE_ANSWERED,),
         summary="Read the requirements into typed constraints; ask the fewest questions coverage needs."),
    Step(subject=Subjects.INTAKE_ANSWERED, service="intake", node="apply_answers",
         runs=("gate_user_input", "apply_answers", "coverage_check", "adaptive_questions", "finalize"), publishes=(Subjects.INTAKE_COMPLETED,),
         waits_for=(Subjects.INTAKE_ANSWERED,),
         summary="Apply the user's answers; ask again or hand the constraints on."),
    Step(subject=Subjects.INTAKE_COMPLETED, service="planner", node="planner", runs=("planner",),
         publishes=(Subjects.PLAN_PROPOSED,), summary="Compose catalog patterns into a plan."),
    Step(subject=Subjects.PLAN_REVISE, service="planner", node="planner_revise", runs=("planner",),
         publishes=(Subjects.PLAN_PROPOSED,), summary="Revise the plan for the critic's findings."),
    Step(subject=Subjects.PLAN_PROPOSED, service="critics", node="critic_tech", runs=("critic_tech", "critic_cost"),
         publishes=(Subjects.CRITIQUE_COMPLETED, Subjects.PLAN_REVISE),
         summary="Find technical risks (a bounded number of revision rounds), then price the plan."),
    Step(subject=Subjects.CRITIQUE_COMPLETED, service="policy", node="policy_eval", runs=("policy_eval",),
         publishes=(Subjects.POLICY_EVALUATED,), summary="Apply the rules: pass, warn or fail."),
    Step(subject=Subjects.POLICY_EVALUATED, service="codegen", node="gate_hitl", runs=("gate_hitl",),
         waits_for=(Subjects.GATE_DECIDED, Subjects.GATE_EXPIRE), summary="Wait for a person to approve, reject or request changes."),
    Step(subject=Subjects.GATE_DECIDED, service="codegen", node="process_approval_feedback",
         runs=("gate_hitl", "process_approval_feedback", "codegen"),
         publishes=(Subjects.CODEGEN_COMPLETED, Subjects.INTAKE_COMPLETED, Subjects.RUN_COMPLETED),
         summary="Generate the repository, or re-plan the next version for requested changes."),
    Step(subject=Subjects.GATE_EXPIRE, service="codegen", node="gate_expire", runs=("gate_hitl", "process_approval_feedback"),
         publishes=(Subjects.RUN_COMPLETED,),
         summary="Remind the reviewer, then let an undecided gate go stale."),
    Step(subject=Subjects.CODEGEN_COMPLETED, service="validators", node="validators",
         runs=("merge_user_edits", "validators", "rationale_compile", "diff_and_persist"), publishes=(Subjects.RUN_COMPLETED,),
         summary="Check the generated repository, compile the rationale, commit and zip the version."),
)

MODEL_CALLS: tuple[ModelCall, ...] = (
    ModelCall(name="intake_extract", service="intake", pack="intake_extract"),
    ModelCall(name="adaptive_questions", service="intake", pack="intake_questions"),
    ModelCall(name="planner_choose", service="planner", pack="planner_choose"),
    ModelCall(name="critic_tech", service="critics", pack="critic_tech"),
    ModelCall(name="approval_feedback", service="codegen", pack="approval_patch"),
    ModelCall(name="codegen", service="codegen", pack="codegen_seams", writes_code=True),
)

#: Each agent service and the subjects it consumes, in pipeline order.
CONSUMES: dict[str, tuple[str, ...]] = {}
for _step in PIPELINE:
    CONSUMES.setdefault(_step.service, ())
    CONSUMES[_step.service] += (_step.subject,)
AGENTS: tuple[str, ...] = tuple(CONSUMES)
#: Services that read the bus without being a step of the pipeline (the event subjects, for their own ends).
SUBSCRIBERS: tuple[str, ...] = ("webhooks",)
NODE_STAGE: dict[str, str] = {n.name: n.stage for n in NODES}


def steps_of(service: str) -> tuple[Step, ...]:
    return tuple(s for s in PIPELINE if s.service == service)


def step_for(subject: str) -> Step:
    return next(s for s in PIPELINE if s.subject == subject)


def model_call(name: str) -> ModelCall:
    return next(m for m in MODEL_CALLS if m.name == name)


def stage_label(node: str | None) -> str:
    """The stage a node's events belong to, as the CLI shows it (the node's own name if unknown)."""
    stage = NODE_STAGE.get(node or "")
    return next((s.label for s in STAGES if s.name == stage), node or "")
