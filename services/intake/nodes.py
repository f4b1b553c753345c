"""The intake's nodes: pure functions of typed state."""

from __future__ import annotations

from typing import Any, Protocol

from amp_contracts import CardDraft, ConstraintSchema, ValidationFailed
from amp_domain.compliance import card_data_unclear
from amp_domain.labels import field_label, value_text
from amp_domain.requirements.coverage import check_coverage
from amp_domain.requirements.extraction import apply_answers, extract
from amp_domain.requirements.questions import assumptions
from amp_runtime.calls import current_call, provenance
from amp_runtime.providers import Ask, CallContext, Result

from .asks import ask_next, extract_constraints
from .state import Answered, Asked, Covered, Extracted, Finalized, IntakeState

AGENT = "intake"


class Llm(Protocol):
    async def ask(self, q: Ask[Any], ctx: CallContext | None = None) -> Result[Any]: ...


async def intake_extract(state: IntakeState, llm: Llm) -> Extracted:
    """Freeform text → typed constraints; structured input wins over the text, and says so."""
    res = await llm.ask(extract_constraints(state.get("text") or ""), current_call())
    found = res.value
    structured = state.get("input_constraints") or ConstraintSchema()
    from_text = found.constraints.stated()
    overridden = sorted(k for k, v in structured.stated().items() if k in from_text and from_text[k] != v)
    merged = found.constraints.merged(structured)
    spans = list(found.spans)
    card = CardDraft(
        agent=AGENT, node_name="intake_extract", trigger="constraints_updated",
        summary=f"Extracted {len(merged.stated())} constraints"
                + (f"; structured input overrode {', '.join(overridden)}" if overridden else ""),
        inputs={"constraints_keys": sorted(merged.stated()), "spans": [s.model_dump(mode="json") for s in spans]},
        details={"constraints": merged.stated(), "structured_overrides": overridden},
        confidence=0.9 if spans else 0.5,
        **provenance(res),
    )
    return {"constraints": merged, "spans": spans, "overridden": overridden,
            "cards": [card], "asked": state.get("asked") or [], "round": state.get("round") or 0}


def coverage_check(state: IntakeState) -> Covered:
    constraints = state["constraints"]
    cov = check_coverage(constraints)
    if (unclear := card_data_unclear(state.get("text") or "", constraints)) is not None:
        cov = cov.model_copy(update={"conflicts": [*cov.conflicts, unclear]})
    card = CardDraft(
        agent=AGENT, node_name="coverage_check", trigger="constraints_updated",
        summary=f"Coverage {cov.score:.0%} (threshold {cov.threshold:.0%})"
                + (f"; missing {', '.join(field_label(f) for f in cov.missing)}" if cov.missing else "")
                + (f"; {len(cov.conflicts)} conflict(s)" if cov.conflicts else ""),
        inputs={"constraints_keys": sorted(constraints.stated())},
        impacts={"coverage": cov.score},
        risks=[c.message for c in cov.conflicts],
        details={"coverage": cov.model_dump(mode="json")},
        confidence=cov.score,
    )
    return {"coverage": cov, "cards": [card]}


def needs_questions(state: IntakeState) -> str:
    return "finalize" if state["coverage"].passed else "adaptive_questions"


async def adaptive_questions(state: IntakeState, llm: Llm) -> Asked:
    constraints, cov = state["constraints"], state["coverage"]
    asked = set(state.get("asked") or [])
    res = await llm.ask(ask_next(constraints, cov, asked), current_call())
    qs = res.value
    if not qs:  # nothing worth asking: proceed on explicit assumptions
        return {"questions": []}
    card = CardDraft(
        agent=AGENT, node_name="adaptive_questions", trigger="constraints_updated",
        summary=f"Asking {len(qs)} question(s): " + "; ".join(q.prompt for q in qs),
        inputs={"constraints_keys": sorted(constraints.stated())},
        details={"question_count": len(qs), "fields": [q.field for q in qs]},
        confidence=cov.score,
        **provenance(res),
    )
    return {"questions": qs, "asked": sorted(asked | {q.field for q in qs}),
            "round": (state.get("round") or 0) + 1, "cards": [card]}


def route_after_questions(state: IntakeState) -> str:
    return "gate_user_input" if state.get("questions") else "finalize"


def apply_user_answers(state: IntakeState) -> Answered:
    answer = state.get("answer") or {}
    constraints = state["constraints"]
    try:
        updated = apply_answers(constraints, answer.get("answers") or {}, answer.get("text") or "")
    except ValidationFailed as e:  # a wrong answer re-asks rather than failing the run
        return {"cards": [CardDraft(agent=AGENT, node_name="apply_answers", trigger="user_answer",
                                    summary=f"Answer not usable: {e.message}", confidence=0.3)]}
    changed = sorted(k for k, v in updated.stated().items() if constraints.stated().get(k) != v)
    card = CardDraft(agent=AGENT, node_name="apply_answers", trigger="user_answer",
                     summary="Answers set " + (", ".join(f"{field_label(k)} = {value_text(updated.stated()[k])}"
                                                         for k in changed) or "nothing new"),
                     inputs={"constraints_keys": changed}, details={"answers": dict(answer)}, confidence=0.9)
    return {"constraints": updated, "cards": [card], "questions": []}


def finalize(state: IntakeState) -> Finalized:
    constraints, cov = state["constraints"], state["coverage"]
    made = assumptions(constraints, cov)
    cards = []
    if made:
        cards.append(CardDraft(agent=AGENT, node_name="coverage_check", trigger="constraints_updated",
                               summary="Proceeding with assumptions: " + "; ".join(
                                   f"{field_label(a.field)} = {value_text(a.value)}" for a in made),
                               assumptions=[f"{a.field} = {a.value}: {a.reason}" for a in made],
                               confidence=cov.score))
    return {"assumptions": made, "complete": True, "cards": cards}


def warm_up() -> None:
    """Load the gazetteer and compile the grammars before the first message, not during it."""
    found = extract("Real-time API on AWS eu-west-1, p95 80 ms, 100 rps, $1k/month, PII, GDPR.")
    check_coverage(found.constraints)
