"""The intake's nodes: pure functions of state (seed §3, §20)."""

from __future__ import annotations

from typing import Any

from amp_contracts import ConstraintSchema, Coverage, ValidationFailed
from amp_domain.requirements.coverage import check_coverage
from amp_domain.requirements.extraction import apply_answers, extract
from amp_domain.requirements.questions import assumptions
from amp_runtime.calls import current_call, provenance

AGENT = "intake"


async def intake_extract(state: dict[str, Any], orchestration: Any) -> dict[str, Any]:
    """Freeform text → typed constraints; structured input wins over the text, and says so."""
    res = await orchestration.extract(state.get("text") or "", ctx=current_call())
    found = res.value
    structured = ConstraintSchema.model_validate(state.get("input_constraints") or {})
    from_text = found.constraints.stated()
    overridden = sorted(k for k, v in structured.stated().items() if k in from_text and from_text[k] != v)
    merged = found.constraints.merged(structured)
    spans = [s.model_dump(mode="json") for s in found.spans]
    card = {
        "agent": AGENT, "node_name": "intake_extract", "trigger": "constraints_updated",
        "summary": f"Extracted {len(merged.stated())} constraints"
                   + (f"; structured input overrode {', '.join(overridden)}" if overridden else ""),
        "inputs": {"constraints_keys": sorted(merged.stated()), "spans": spans},
        "details": {"constraints": merged.stated(), "structured_overrides": overridden},
        "confidence": 0.9 if spans else 0.5,
        **provenance(res),
    }
    return {"constraints": merged.model_dump(mode="json"), "spans": spans, "overridden": overridden,
            "cards": [card], "asked": state.get("asked") or [], "round": state.get("round") or 0}


def coverage_check(state: dict[str, Any]) -> dict[str, Any]:
    constraints = ConstraintSchema.model_validate(state["constraints"])
    cov = check_coverage(constraints)
    card = {
        "agent": AGENT, "node_name": "coverage_check", "trigger": "constraints_updated",
        "summary": f"Coverage {cov.score:.0%} (threshold {cov.threshold:.0%})"
                   + (f"; missing {', '.join(cov.missing)}" if cov.missing else "")
                   + (f"; {len(cov.conflicts)} conflict(s)" if cov.conflicts else ""),
        "inputs": {"constraints_keys": sorted(constraints.stated())},
        "impacts": {"coverage": cov.score},
        "risks": [c.message for c in cov.conflicts],
        "details": {"coverage": cov.model_dump(mode="json")},
        "confidence": cov.score,
    }
    return {"coverage": cov.model_dump(mode="json"), "cards": [card]}


def needs_questions(state: dict[str, Any]) -> str:
    return "finalize" if Coverage.model_validate(state["coverage"]).passed else "adaptive_questions"


async def adaptive_questions(state: dict[str, Any], orchestration: Any) -> dict[str, Any]:
    constraints = ConstraintSchema.model_validate(state["constraints"])
    cov = Coverage.model_validate(state["coverage"])
    asked = set(state.get("asked") or [])
    res = await orchestration.next_questions(constraints, cov, asked, ctx=current_call())
    qs = res.value
    if not qs:  # nothing worth asking: proceed on explicit assumptions
        return {"questions": []}
    card = {
        "agent": AGENT, "node_name": "adaptive_questions", "trigger": "constraints_updated",
        "summary": f"Asking {len(qs)} question(s): " + "; ".join(q.prompt for q in qs),
        "inputs": {"constraints_keys": sorted(constraints.stated())},
        "details": {"question_count": len(qs), "fields": [q.field for q in qs]},
        "confidence": cov.score,
        **provenance(res),
    }
    return {"questions": [q.model_dump(mode="json") for q in qs], "asked": sorted(asked | {q.field for q in qs}),
            "round": (state.get("round") or 0) + 1, "cards": [card]}


def route_after_questions(state: dict[str, Any]) -> str:
    return "gate_user_input" if state.get("questions") else "finalize"


def apply_user_answers(state: dict[str, Any]) -> dict[str, Any]:
    answer = state.get("answer") or {}
    constraints = ConstraintSchema.model_validate(state["constraints"])
    try:
        updated = apply_answers(constraints, answer.get("answers") or {}, answer.get("text") or "")
    except ValidationFailed as e:  # a wrong answer re-asks rather than failing the run
        return {"cards": [{"agent": AGENT, "node_name": "apply_answers", "trigger": "user_answer",
                           "summary": f"Answer not usable: {e.message}", "confidence": 0.3}]}
    changed = sorted(k for k, v in updated.stated().items() if constraints.stated().get(k) != v)
    card = {"agent": AGENT, "node_name": "apply_answers", "trigger": "user_answer",
            "summary": f"Answers set {', '.join(changed) or 'nothing new'}",
            "inputs": {"constraints_keys": changed}, "details": {"answers": answer}, "confidence": 0.9}
    return {"constraints": updated.model_dump(mode="json"), "cards": [card], "questions": []}


def finalize(state: dict[str, Any]) -> dict[str, Any]:
    constraints = ConstraintSchema.model_validate(state["constraints"])
    cov = Coverage.model_validate(state["coverage"])
    made = assumptions(constraints, cov)
    cards = []
    if made:
        cards.append({"agent": AGENT, "node_name": "coverage_check", "trigger": "constraints_updated",
                      "summary": "Proceeding with assumptions: " + "; ".join(f"{a.field} = {a.value}" for a in made),
                      "assumptions": [f"{a.field} = {a.value}: {a.reason}" for a in made],
                      "confidence": cov.score})
    return {"assumptions": [a.model_dump(mode="json") for a in made], "complete": True, "cards": cards}


def warm_up() -> None:
    """Load the gazetteer and compile the grammars before the first message, not during it."""
    found = extract("Real-time API on AWS eu-west-1, p95 80 ms, 100 rps, $1k/month, PII, GDPR.")
    check_coverage(found.constraints)
