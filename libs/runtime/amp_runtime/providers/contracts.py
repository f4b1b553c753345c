"""The contracts a model answers in, and the checks that keep it inside the catalog and the schema.

Each answer is first validated by its Pydantic model (the same model whose JSON Schema the
model was given), then by a check that only code can make: a pattern id must be one of the
candidates, a region must be in the allow-list, a quote must occur in the text, a question must
ask for a missing field and offer only schema values. A failed check raises `OutputRejected`,
whose message goes back to the model verbatim for a corrected answer.
"""

from __future__ import annotations

import ast
import typing
from typing import Any, Literal

from amp_contracts import ConstraintSchema, Coverage, Plan, Question, Risk, Span
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .base import PatternChoice, RegionAllowed, Seam

CONSTRAINT_FIELDS: tuple[str, ...] = tuple(ConstraintSchema.model_fields)
ConstraintField = Literal[CONSTRAINT_FIELDS]  # type: ignore[valid-type]


class OutputRejected(ValueError):
    """An answer that parsed but breaks a rule the schema cannot express."""


# --------------------------------------------------------------------------- output models

class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: ConstraintField = Field(description="The constraint field this quote supports.")  # type: ignore[valid-type]
    quote: str = Field(min_length=1, description="The exact words of the requirements that state the value.")


class ExtractionOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    constraints: ConstraintSchema = Field(description="Only what the text states; leave unknown fields out.")
    evidence: list[Evidence] = Field(default_factory=list, description="One quote per stated field.")


class CommentPatchOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    set: ConstraintSchema = Field(default_factory=ConstraintSchema,
                                  description="Fields the comment changes, with their complete new values.")
    clear: list[ConstraintField] = Field(default_factory=list,  # type: ignore[valid-type]
                                         description="Fields the comment removes entirely.")


class QuestionsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[Question] = Field(default_factory=list, max_length=5)


class CritiqueOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    risks: list[Risk] = Field(default_factory=list)


class SeamFill(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seam_id: str
    code: str


class SeamFillsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fills: list[SeamFill]


# --------------------------------------------------------------------------- checks

def default_region_allowed(cloud: str | None, region: str) -> bool:
    """The planner catalog's regions (imported lazily: the catalog is the planner's)."""
    from amp_domain.catalog import region_index

    hit = region_index().get(region)
    return hit is not None and (cloud is None or hit[0] == cloud)


def check_regions(constraints: ConstraintSchema, allowed: RegionAllowed | None) -> None:
    allowed = allowed or default_region_allowed
    bad = [r for r in constraints.regions if not allowed(constraints.cloud, r)]
    if bad:
        where = f" for cloud {constraints.cloud}" if constraints.cloud else ""
        raise OutputRejected(f"regions {bad} are not known region codes{where}; use only catalog region codes "
                             "(e.g. eu-west-1, europe-west4, westeurope) or leave regions empty")


def check_choice(choice: PatternChoice, candidates: list[str]) -> PatternChoice:
    """The model may only pick one of the candidates it was shown, copied exactly."""
    if choice.pattern_id not in candidates:
        raise OutputRejected(f"pattern_id {choice.pattern_id!r} is not one of the candidates "
                             f"{candidates}; choose exactly one of them")
    return choice


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


def check_patch(out: CommentPatchOut, current: ConstraintSchema, allowed: RegionAllowed | None) -> dict[str, Any]:
    """The fields a comment changes, in the shape of the intake's `extract_patch`."""
    check_regions(ConstraintSchema(cloud=out.set.cloud or current.cloud, regions=out.set.regions), allowed)
    both = sorted(set(out.clear) & set(out.set.stated()))
    if both:
        raise OutputRejected(f"{', '.join(both)} both set and cleared; do one or the other")
    now = current.model_dump(mode="json")
    blank = ConstraintSchema().model_dump(mode="json")
    patch: dict[str, Any] = {k: v for k, v in out.set.stated().items() if now.get(k) != v}
    patch.update({k: blank[k] for k in out.clear if now.get(k) != blank[k]})
    try:
        ConstraintSchema.model_validate({**now, **patch})
    except ValidationError as e:
        raise OutputRejected(f"the patched constraints are invalid: {e}") from e
    return patch


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


def check_seams(out: SeamFillsOut, seams: list[Seam]) -> dict[str, str]:
    wanted = {s.id: s for s in seams}
    got = [f.seam_id for f in out.fills]
    problems: list[str] = []
    if sorted(got) != sorted(wanted):
        problems.append(f"fill exactly the seams {sorted(wanted)} once each; got {got}")
    for f in out.fills:
        seam = wanted.get(f.seam_id)
        if seam is None or seam.language != "python":
            continue
        try:
            ast.parse(f.code, filename=seam.path)
        except SyntaxError as e:
            problems.append(f"seam {f.seam_id!r}: Python syntax error at line {e.lineno}: {e.msg}")
    if problems:
        raise OutputRejected("; ".join(problems))
    return {f.seam_id: f.code for f in out.fills}


def explain(error: Exception) -> str:
    """A validation failure in words a model (and a person) can act on."""
    if isinstance(error, ValidationError):
        lines = []
        for err in error.errors()[:20]:
            loc = ".".join(str(p) for p in err.get("loc", ())) or "(root)"
            lines.append(f"- {loc}: {err.get('msg')}")
        return "The answer does not match the schema:\n" + "\n".join(lines)
    return f"The answer breaks a rule: {error}"
