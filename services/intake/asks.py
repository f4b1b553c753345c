"""The intake's questions to a model: which constraints the text states, and what to ask next.

Each question carries its output contract, a check that only code can make (a quote must occur
in the text, a region must exist, a question may only ask about a missing field and offer only
values the schema allows) and the rules' own answer (the requirements grammar), which is what
the platform says without a model.
"""

from __future__ import annotations

import typing
from typing import Any, Literal

from amp_contracts import ConstraintSchema, Coverage, Question, Span
from amp_contracts.constraints import ConstraintField
from amp_domain.requirements.extraction import Extraction, extract
from amp_domain.requirements.questions import next_questions
from amp_runtime.providers import Ask, OutputRejected, RegionAllowed, as_json, check_regions, quoted
from pydantic import BaseModel, ConfigDict, Field

EXTRACT = "intake_extract"
QUESTIONS = "adaptive_questions"


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: ConstraintField = Field(description="The constraint field this quote supports.")  # type: ignore[valid-type]
    quote: str = Field(min_length=1, description="The exact words of the requirements that state the value.")


class ExtractionOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    constraints: ConstraintSchema = Field(description="Only what the text states; leave unknown fields out.")
    evidence: list[Evidence] = Field(default_factory=list, description="One quote per stated field.")


class QuestionsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[Question] = Field(default_factory=list, max_length=5)


def find_quote(text: str, quote: str) -> tuple[int, int] | None:
    i = text.find(quote)
    if i < 0:
        i = text.lower().find(quote.lower())
    return (i, i + len(quote)) if i >= 0 else None


def check_extraction(out: ExtractionOut, text: str, allowed: RegionAllowed | None) -> tuple[ConstraintSchema, list[Span]]:
    """Constraints grounded in the text: each stated field quotes the words it came from."""
    check_regions(out.constraints, allowed)
    stated = out.constraints.stated()
    spans: list[Span] = []
    problems: list[str] = []
    quoted: set[str] = set()
    for ev in out.evidence:
        if ev.field not in stated:
            problems.append(f"evidence for {ev.field}, which the constraints leave unstated")
            continue
        where = find_quote(text, ev.quote)
        if where is None:
            problems.append(f"quote {ev.quote!r} for {ev.field} does not occur in the requirements")
            continue
        quoted.add(ev.field)
        spans.append(Span(field=ev.field, value=stated[ev.field], start=where[0], end=where[1],
                          text=text[where[0]:where[1]]))
    missing = sorted(set(stated) - quoted)
    if missing:
        problems.append(f"no evidence quote for {', '.join(missing)}: quote the words that state each value, "
                        "or leave the field out")
    if problems:
        raise OutputRejected("; ".join(problems))
    return out.constraints, sorted(spans, key=lambda s: (s.start, s.field))


def field_values(name: str) -> tuple[str, ...] | None:
    """The values a constraint field allows, when the schema enumerates them."""
    ann = ConstraintSchema.model_fields[name].annotation
    found: list[str] = []

    def walk(t: Any) -> None:
        if typing.get_origin(t) is Literal:
            found.extend(str(a) for a in typing.get_args(t))
        for a in typing.get_args(t):
            if typing.get_origin(t) is not Literal:
                walk(a)

    walk(ann)
    if ann is bool or "bool" in str(ann):
        return ("true", "false")
    return tuple(found) or None


def check_questions(out: QuestionsOut, constraints: ConstraintSchema, coverage: Coverage,
                    asked: set[str], limit: int = 3) -> list[Question]:
    """Questions only about fields still missing, offering only values the schema allows."""
    allowed = [f for f in dict.fromkeys([*coverage.blocking, *coverage.missing])
               if f in ConstraintSchema.model_fields and f not in asked and f not in constraints.stated()]
    problems: list[str] = []
    seen_ids: set[str] = set()
    seen_fields: set[str] = set()
    if len(out.questions) > limit:
        problems.append(f"{len(out.questions)} questions; ask at most {limit}")
    if allowed and not out.questions:
        problems.append(f"no question, although {', '.join(allowed)} are missing")
    for q in out.questions:
        if q.field not in allowed:
            problems.append(f"question {q.id!r} asks about {q.field!r}; ask only about {allowed}")
        if q.id in seen_ids or q.field in seen_fields:
            problems.append(f"question {q.id!r} repeats an id or field")
        seen_ids.add(q.id)
        seen_fields.add(q.field)
        if not q.prompt.strip():
            problems.append(f"question {q.id!r} has no prompt")
        values = field_values(q.field) if q.field in ConstraintSchema.model_fields else None
        if q.kind in ("choice", "multi"):
            if not q.options:
                problems.append(f"question {q.id!r} is a {q.kind} without options")
            elif values is not None:
                bad = [o for o in q.options if o not in values]
                if bad:
                    problems.append(f"question {q.id!r} offers {bad}, which {q.field} does not allow; "
                                    f"allowed: {list(values)}")
    if problems:
        raise OutputRejected("; ".join(problems))
    return [q.model_copy(update={"blocking": q.field in coverage.blocking}) for q in out.questions]


def extract_constraints(text: str, region_allowed: RegionAllowed | None = None) -> Ask[Extraction]:
    def check(out: ExtractionOut) -> Extraction:
        constraints, spans = check_extraction(out, text, region_allowed)
        return Extraction(constraints=constraints, spans=spans)

    return Ask(call=EXTRACT, output=ExtractionOut, prompt=quoted("Requirements", text), check=check,
               rules=lambda: extract(text))


def ask_next(constraints: ConstraintSchema, coverage: Coverage, asked: set[str] | list[str]) -> Ask[list[Question]]:
    asked_set = set(asked)
    missing = [f for f in dict.fromkeys([*coverage.blocking, *coverage.missing])
               if f not in asked_set and f in ConstraintSchema.model_fields]
    allowed = {f: list(field_values(f) or []) for f in missing}
    prompt = (f"Known constraints: {as_json(constraints.stated())}\n"
              f"Missing fields (ask only about these; blocking first): {as_json(allowed)}\n"
              f"Blocking fields: {as_json(coverage.blocking)}\nAlready asked: {as_json(sorted(asked_set))}\n"
              f"Coverage: {coverage.score:.2f} (threshold {coverage.threshold:.2f})")
    return Ask(call=QUESTIONS, output=QuestionsOut, prompt=prompt,
               check=lambda out: check_questions(out, constraints, coverage, asked_set),
               rules=lambda: list(next_questions(constraints, coverage, asked_set)))
