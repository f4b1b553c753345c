"""The policy engine: rules as data (the built-in pack and project packs) over typed plan facts.

Project rule packs add rules of the same shape; waivers accept a failed rule visibly, never
silently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from amp_contracts import ConstraintSchema, CostEstimate, Plan, PolicyResults, RuleResult, Waiver, overall_of
from amp_domain.policy.jsonlogic import apply_logic, render_detail, truthy
from amp_domain.policy.packs import load_rules, validate_rule_pack

from .facts import build_context


def run_rule(rule: dict, ctx: dict[str, Any]) -> tuple[RuleResult, bool]:
    """One rule's result and whether it asks for human review."""
    control = rule.get("control", "")
    if "applies" in rule and not truthy(apply_logic(rule["applies"], ctx)):
        why = render_detail(rule.get("not_applicable", "conditions not met"), ctx)
        return RuleResult(id=rule["id"], status="pass", detail=f"not applicable: {why}", control=control), False
    outcome = next((c for c in rule.get("cases", []) if truthy(apply_logic(c["when"], ctx))), None)
    if outcome is None:
        outcome = rule.get("otherwise", {"status": "pass", "detail": "no case matched"})
    return (RuleResult(id=rule["id"], status=outcome["status"], detail=render_detail(outcome["detail"], ctx),
                       control=outcome.get("control", control)), bool(outcome.get("requires_review", False)))


def _live(w: Waiver, now: datetime) -> bool:
    if w.expires_at is None:
        return True
    exp = w.expires_at if w.expires_at.tzinfo else w.expires_at.replace(tzinfo=UTC)
    return exp > now


def evaluate(constraints: ConstraintSchema, plan: Plan, cost: CostEstimate,
             previous_cost: CostEstimate | None = None, extra_rules: list[dict] | None = None,
             waivers: list[Waiver] | None = None, now: datetime | None = None) -> PolicyResults:
    """Apply the built-in rules and any project pack; unexpired waivers accept failed rules visibly."""
    params, builtin = load_rules()
    pack = validate_rule_pack(extra_rules) if extra_rules else []
    ctx = build_context(constraints, plan, cost, previous_cost, params)
    now = now or datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    active: dict[str, Waiver] = {}
    for w in sorted(waivers or [], key=lambda w: (w.rule_id, w.by, w.reason)):
        if _live(w, now):
            active.setdefault(w.rule_id, w)
    results: list[RuleResult] = []
    review = False
    for rule in (*builtin, *pack):
        res, wants_review = run_rule(rule, ctx)
        w = active.get(res.id)
        if w is not None and res.status == "fail":
            until = f", until {w.expires_at.isoformat()}" if w.expires_at else ""
            res = res.model_copy(update={"waived": True, "waiver_reason": f"{w.reason} (waived by {w.by}{until})"})
        review = review or (wants_review and not res.waived)
        results.append(res)
    return PolicyResults(rules=results, overall=overall_of(results), requires_review=review)
