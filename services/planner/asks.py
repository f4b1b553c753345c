"""The planner's question to a model: which of the catalog's open candidates fits a capability best.

The model may only answer with one of the ids it was shown (checked here); the rules' answer
is the candidate the catalog's assessment ranked first.
"""

from __future__ import annotations

import functools

from amp_contracts import ConstraintSchema
from amp_domain.catalog import catalog_version, load_catalog
from amp_runtime.providers import Ask, OutputRejected, as_json
from pydantic import BaseModel, Field

CHOOSE = "planner_choose"


class PatternChoice(BaseModel):
    """The planner's choice for one capability: always one of the candidates it was given."""

    pattern_id: str = Field(description="Exactly one of the candidate pattern ids, copied verbatim.")
    justification: str = Field(min_length=1, description="Why this candidate fits the constraints best.")


def check_choice(choice: PatternChoice, candidates: list[str]) -> PatternChoice:
    """The model may only pick one of the candidates it was shown, copied exactly."""
    if choice.pattern_id not in candidates:
        raise OutputRejected(f"pattern_id {choice.pattern_id!r} is not one of the candidates "
                             f"{candidates}; choose exactly one of them")
    return choice


@functools.cache
def catalog_reference(cloud: str) -> str:
    """The cloud's whole pattern catalog as a stable reference block.

    The model weighs candidates with the same facts the rules use, and the block is identical for
    every call on that cloud and catalog version, so it is written to the prompt cache once and
    read by every later call of every decision set (the per-call part stays small).
    """
    lines = [f"Pattern catalog {catalog_version()} for {cloud} (id: deployment; latency floor; throughput "
             "ceiling; multi-AZ; compliance; summary):"]
    for p in sorted(load_catalog(cloud).patterns, key=lambda p: p.id):
        d = p.model_dump(mode="json")
        lines.append(f"- {p.id}: {d.get('deployment')}; {d.get('latency_floor_ms')} ms; "
                     f"{d.get('throughput_ceiling_rps')} rps; multi-AZ {d.get('multi_az')}; "
                     f"{', '.join(d.get('compliance') or [])}; {d.get('summary', '')}")
    return "\n".join(lines)


def choose_pattern(capability: str, candidates: list[str], constraints: ConstraintSchema,
                   details: dict[str, str] | None = None) -> Ask[PatternChoice]:
    """`candidates` best first, as the rules ranked them."""
    if not candidates:
        raise ValueError(f"no candidates to choose from for {capability}")
    lines = "\n".join(f"- {c}" + (f": {details[c]}" if details and c in details else "") for c in candidates)
    prompt = (f"Capability: {capability}\nCandidates (ranked by the catalog rules, best first):\n{lines}\n"
              f"Constraints: {as_json(constraints.stated())}")

    def rules() -> PatternChoice:
        first = candidates[0]
        why = (details or {}).get(first) or f"ranked first for {capability} by the catalog rules"
        return PatternChoice(pattern_id=first, justification=why)

    return Ask(call=CHOOSE, output=PatternChoice, prompt=prompt, check=lambda out: check_choice(out, candidates),
               rules=rules, reference=catalog_reference(candidates[0].split(":", 1)[0]))
