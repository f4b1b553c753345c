"""The deterministic provider: the rule-based code of each agent, behind the provider interface.

It delegates and never reimplements: extraction and comment patches are the intake's
grammar, questions the intake's question rules, the pattern choice is the candidate the
planner's rules ranked first, the critique is the technical critic's. The agents' modules
are imported inside each method, so this package does not depend on them at import time.
"""

from __future__ import annotations

from typing import Any

from amp_contracts import ConstraintSchema, Coverage, Plan, ProviderInfo, Question, Risk

from .base import CallContext, PatternChoice, RegionAllowed, Result, Seam

NAME = "deterministic"


def _info() -> ProviderInfo:
    return ProviderInfo(provider=NAME)


class DeterministicProvider:
    """Same inputs, same answer; no model, no tokens, no cost."""

    name = NAME

    async def extract(self, text: str, *, region_allowed: RegionAllowed | None = None,
                      ctx: CallContext | None = None) -> Result[Any]:
        from amp_domain.requirements.extraction import extract

        return Result(value=extract(text), info=_info())

    async def next_questions(self, constraints: ConstraintSchema, coverage: Coverage, asked: set[str] | list[str],
                             *, ctx: CallContext | None = None) -> Result[list[Question]]:
        from amp_domain.requirements.questions import next_questions

        return Result(value=list(next_questions(constraints, coverage, set(asked))), info=_info())

    async def choose_pattern(self, capability: str, candidates: list[str], constraints: ConstraintSchema, *,
                             details: dict[str, str] | None = None,
                             ctx: CallContext | None = None) -> Result[PatternChoice]:
        """The candidate the planner's rules ranked first (the caller passes them best first)."""
        if not candidates:
            raise ValueError(f"no candidates to choose from for {capability}")
        first = candidates[0]
        why = (details or {}).get(first) or f"ranked first for {capability} by the catalog rules"
        return Result(value=PatternChoice(pattern_id=first, justification=why), info=_info())

    async def critique(self, plan: Plan, constraints: ConstraintSchema, *,
                       ctx: CallContext | None = None) -> Result[list[Risk]]:
        from services.critics.tech import critique

        return Result(value=list(critique(plan, constraints)), info=_info())

    async def parse_approval_comment(self, comment: str, current: ConstraintSchema, *,
                                     region_allowed: RegionAllowed | None = None,
                                     ctx: CallContext | None = None) -> Result[dict[str, Any]]:
        from amp_domain.requirements.extraction import extract_patch

        return Result(value=dict(extract_patch(comment, current)) if comment else {}, info=_info())

    async def fill_seams(self, seams: list[Seam], context: dict[str, Any], *,
                         ctx: CallContext | None = None) -> Result[dict[str, str]]:
        """Each seam keeps its template default."""
        return Result(value={s.id: s.default for s in seams}, info=_info())
