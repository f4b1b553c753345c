"""The technical critic's question to a model: which risks does this plan carry?

The model may only name components of the plan; the rules' answer is the catalog-driven
critique (`tech.critique`).
"""

from __future__ import annotations

from amp_contracts import ConstraintSchema, Plan, Risk
from amp_runtime.providers import Ask, OutputRejected, as_json
from pydantic import BaseModel, ConfigDict, Field

from .tech import critique

CRITIQUE = "critic_tech"


class CritiqueOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    risks: list[Risk] = Field(default_factory=list)


def check_risks(out: CritiqueOut, plan: Plan) -> list[Risk]:
    known = {c.pattern_id for c in plan.components} | {c.capability for c in plan.components}
    problems: list[str] = []
    ids = [r.id for r in out.risks]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        problems.append(f"duplicate risk ids {dup}")
    for r in out.risks:
        if r.component is not None and r.component not in known:
            problems.append(f"risk {r.id!r} names component {r.component!r}, which is not in the plan; "
                            f"use one of {sorted(known)} or null")
    if problems:
        raise OutputRejected("; ".join(problems))
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    return sorted(out.risks, key=lambda r: (order[r.severity], r.id))


def critique_plan(plan: Plan, constraints: ConstraintSchema) -> Ask[list[Risk]]:
    prompt = (f"Plan: {as_json(plan.model_dump(mode='json', exclude={'components': {'__all__': {'candidates'}}}))}\n"
              f"Constraints: {as_json(constraints.stated())}")
    return Ask(call=CRITIQUE, output=CritiqueOut, prompt=prompt, check=lambda out: check_risks(out, plan),
               rules=lambda: list(critique(plan, constraints)))
