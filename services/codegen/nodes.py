"""process_approval_feedback and codegen: pure functions of state."""

from __future__ import annotations

from typing import Any, Protocol

from amp_contracts import CardDraft, ConstraintSchema
from amp_domain.assessment import sample_plan
from amp_domain.labels import changes_text
from amp_domain.requirements.extraction import extract_patch
from amp_runtime.calls import current_call, provenance
from amp_runtime.providers import Ask, CallContext, Result

from .asks import fill_seams, read_comment
from .render import render_repository
from .seams import apply_fills, find_seams
from .state import CodegenOutput, CodegenState, FeedbackOutput


class Llm(Protocol):
    async def ask(self, q: Ask[Any], ctx: CallContext | None = None) -> Result[Any]: ...


async def process_approval_feedback(state: CodegenState, llm: Llm) -> FeedbackOutput:
    """The reviewer's comment becomes a constraint patch with the intake's own parser.

    A patch that changes constraints, or a request for changes, leads to a new version that is
    re-planned; an approval without changes goes on to code generation.
    """
    decision = state.get("decision") or {}
    status = decision.get("status")
    if status in ("expired", "rejected"):
        outcome = "stale" if status == "expired" else "rejected"
        return {"outcome": outcome, "patch": {}, "cards": [CardDraft(
            agent="gate", node_name="gate_hitl", trigger="user_approve",
            summary="Approval expired; the gate is stale" if outcome == "stale"
            else f"Rejected by {decision.get('by', 'user')}" + (f": {decision['comment']}" if decision.get("comment") else ""),
            confidence=1.0)]}
    current = state["constraints"]
    res = await llm.ask(read_comment(decision["comment"], current), current_call()) if decision.get("comment") else None
    patch = res.value if res is not None else {}
    changed = {k: v for k, v in patch.items() if current.stated().get(k) != v}
    outcome = "replan" if changed or status == "changes_requested" else "generate"
    card = CardDraft(
        agent="gate", node_name="process_approval_feedback", trigger="user_approve",
        summary=(f"{status.replace('_', ' ').capitalize()}: " + (changes_text(current.stated(), {**current.stated(), **changed})
                 if changed else "no constraint changes"))
                + ("; re-planning as a new version" if outcome == "replan" else "; generating the repository"),
        inputs={"constraints_keys": sorted(changed)},
        details={"comment": decision.get("comment") or "", "patch": changed,
                 "waivers": [w.model_dump(mode="json") for w in decision.get("waivers") or []]},
        confidence=0.9 if changed or not decision.get("comment") else 0.6,
        **(provenance(res) if res is not None else {}),
    )
    return {"outcome": outcome, "patch": changed, "cards": [card]}


def route_after_feedback(state: CodegenState) -> str:
    return "codegen" if state.get("outcome") == "generate" else "end"


async def codegen(state: CodegenState, llm: Llm) -> CodegenOutput:
    """Render the templates, then let the model (or the templates' defaults) write the code of the seams."""
    plan, constraints = state["plan"], state["constraints"]
    files = render_repository(plan, constraints, state.get("cost"), state.get("policy"), list(state.get("risks") or []),
                              list((state.get("decision") or {}).get("prior_cards") or []),
                              state.get("project_name") or "ml-platform", state.get("requirements") or "",
                              state.get("project_id") or "")
    seams = find_seams(files)
    res = await llm.ask(fill_seams(seams, {
        "cloud": plan.cloud, "capabilities": [c.capability for c in plan.components],
        "constraints": constraints.stated()}), current_call())
    files = apply_fills(files, seams, res.value)
    written = sorted(s.id for s in seams if res.value.get(s.id, s.default).strip() != s.default.strip())
    card = CardDraft(
        agent="codegen", node_name="codegen", trigger="user_approve",
        summary=f"Generated {len(files)} files: Terraform modules for {len(plan.components)} capabilities, "
                f"services, CI/CD and docs",
        inputs={"artifacts": [c.pattern_id for c in plan.components]},
        details={"top_level": sorted({p.split('/')[0] for p in files}), "seams": [s.id for s in seams],
                 "seams_written_by_model": written},
        confidence=0.8,
        **provenance(res),
    )
    return {"files": files, "cards": [card]}


def warm_up() -> None:
    """Load the templates and the requirements grammar before the first approval arrives."""
    c = ConstraintSchema(cloud="aws", regions=["us-east-1"], workload_types=["online"])
    render_repository(sample_plan("aws"), c, None, None, [], [], "warm-up")
    extract_patch("use us-west-2 instead", c)
