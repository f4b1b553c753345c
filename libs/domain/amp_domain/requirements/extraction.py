"""Freeform requirements → typed Constraint Schema, deterministically and with provenance.

The intake graph's first node. Rule-based on purpose: the same text always yields the
same constraints, each value cites the span it came from (shown in Reason Cards), and
it runs in well under a millisecond per paragraph, so it can re-run on every keystroke
of the coverage meter. Approval comments and question answers go through the same
grammar (`extract_patch`, `apply_answers`) so that a value means the same wherever it
was typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from amp_contracts import ConstraintSchema, Span, ValidationFailed
from pydantic import BaseModel, Field, ValidationError

from .extract_answers import coerce_answer
from .extract_categories import (
    Found,
    extract_batch_scoring,
    extract_cadence,
    extract_compliance,
    extract_data_class,
    extract_deployment,
    extract_gpu,
    extract_languages,
    extract_scoring_cadence,
    extract_stack,
    extract_storage_prefs,
    extract_workloads,
)
from .extract_location import extract_location
from .extract_quantities import (
    extract_availability,
    extract_budget,
    extract_data_volume,
    extract_latency,
    extract_rates,
)
from .extract_text import Hit, dedupe, prepare

LIST_FIELDS: frozenset[str] = frozenset(
    name for name, f in ConstraintSchema.model_fields.items() if f.annotation is not None and "list" in str(f.annotation)
)


class Extraction(BaseModel):
    """What `extract` read: the constraints and, for each value, the text it came from."""

    constraints: ConstraintSchema = Field(default_factory=ConstraintSchema)
    spans: list[Span] = Field(default_factory=list)


@dataclass
class _Parsed:
    values: dict[str, Any] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    negated: dict[str, list[Any]] = field(default_factory=dict)


def _safe(fn: Callable[[], Any], default: Any) -> Any:
    """One field's reading; a defect in one grammar must not cost the user the other fields."""
    try:
        return fn()
    except Exception:  # noqa: BLE001 - the extractor never raises on user text
        return default


def parse(text: object, cloud_hint: str | None = None, patch_mode: bool = False, strict: bool = False) -> _Parsed:
    """All fields of `text` with their spans and the values it denies.

    `cloud_hint` resolves cities when the text names no cloud (approval comments);
    `patch_mode` drops inferences that only make sense for a whole requirement (a latency
    alone implying an online workload). `strict` lets errors surface (tests).
    """
    src = prepare(text)
    out = _Parsed()
    guard: Callable[[Callable[[], Any], Any], Any] = (lambda fn, d: fn()) if strict else _safe

    def put(name: str, hits: list[Hit]) -> None:
        if hits:
            out.values[name] = hits[0].value
            out.hits.extend(hits)

    def put_found(name: str, found: Found, scalar: bool = False) -> None:
        if found.values:
            out.values[name] = found.values[0] if scalar else list(found.values)
            out.hits.extend(found.hits)
        if found.negated:
            out.negated[name] = list(found.negated)

    loc = guard(lambda: extract_location(src, cloud_hint), None)
    if loc is not None:
        if loc.cloud:
            out.values["cloud"] = loc.cloud
            out.hits.extend(loc.cloud_hits[:3])
        if loc.regions:
            out.values["regions"] = list(loc.regions)
            out.hits.extend(h for h in loc.region_hits if h.value in loc.regions)
        if loc.negated_regions:
            out.negated["regions"] = list(loc.negated_regions)
        if loc.negated_clouds:
            out.negated["cloud"] = list(loc.negated_clouds)
        if loc.residency:
            out.values["data_residency"] = loc.residency
            out.hits.extend(loc.residency_hits[:1])
    put("budget_monthly_usd", guard(lambda: extract_budget(src), []))
    latency = guard(lambda: extract_latency(src), [])
    put("sla_latency_ms", latency)
    put("availability_target", guard(lambda: extract_availability(src), []))
    peak, requests = guard(lambda: extract_rates(src), ([], []))
    put("throughput_rps", peak)
    put("data_volume_gb", guard(lambda: extract_data_volume(src), []))
    workloads = guard(lambda: extract_workloads(src, bool(latency), patch_mode), Found())
    put_found("workload_types", workloads)
    if "streaming" in workloads.values and "online" in workloads.values:
        put("request_rps", requests)  # the API's own rate, apart from the stream's events
    put_found("batch_scoring", guard(lambda: extract_batch_scoring(src, workloads.values), Found()), scalar=True)
    put_found("deployment_pref", guard(lambda: extract_deployment(src), Found()), scalar=True)
    compliance = guard(lambda: extract_compliance(src), Found())
    put_found("compliance", compliance)
    put_found("data_classification", guard(lambda: extract_data_class(src, compliance), Found()), scalar=True)
    put_found("team_languages", guard(lambda: extract_languages(src), Found()))
    put_found("existing_stack", guard(lambda: extract_stack(src), Found()))
    put_found("storage_prefs", guard(lambda: extract_storage_prefs(src), Found()))
    put_found("gpu", guard(lambda: extract_gpu(src), Found()), scalar=True)
    put_found("training_cadence", guard(lambda: extract_cadence(src), Found()), scalar=True)
    put_found("scoring_cadence", guard(lambda: extract_scoring_cadence(src), Found()), scalar=True)
    return out


def _validated(values: dict[str, Any]) -> ConstraintSchema:
    """A schema from `values`, dropping any single field the contract rejects."""
    try:
        return ConstraintSchema.model_validate(values)
    except ValidationError:
        kept: dict[str, Any] = {}
        for name, value in values.items():
            try:
                ConstraintSchema.model_validate({**kept, name: value})
                kept[name] = value
            except ValidationError:
                continue
        return ConstraintSchema.model_validate(kept)


def extract(text: str) -> Extraction:
    """The constraints `text` states, each with the span it came from. Never raises."""
    try:
        parsed = parse(text)
        constraints = _validated(parsed.values)
        stated = constraints.model_dump()
        spans = [Span(field=h.field, value=h.value, start=h.start, end=h.end, text=h.text)
                 for h in parsed.hits if stated.get(h.field) not in (None, [], "")]
        return Extraction(constraints=constraints, spans=spans)
    except Exception:  # noqa: BLE001 - last line of defence: an empty reading, never an error
        return Extraction()


_REPLACE = re.compile(r"\b(?:instead|only|replace[sd]?|replacing|switch\w*\s+to|change\w*\s+to|move\s+to|"
                      r"rather\s+than|just|swap\w*|exclusively)\b", re.IGNORECASE)


def extract_patch(comment: str, current: ConstraintSchema) -> dict[str, Any]:
    """The constraint changes an approval comment asks for; only fields that change.

    Scalars are replaced. Lists grow ("also add GDPR") unless the comment says
    instead/only/replace, and lose what it denies ("drop Kafka"). Returns {} when the
    comment states no constraint.
    """
    try:
        parsed = parse(comment, cloud_hint=current.cloud, patch_mode=True)
    except Exception:  # noqa: BLE001
        return {}
    replace = bool(_REPLACE.search(prepare(comment)))
    now = current.model_dump(mode="json")
    patch: dict[str, Any] = {}
    for name in ConstraintSchema.model_fields:
        cur = now.get(name)
        if name in LIST_FIELDS:
            new_items = parsed.values.get(name) or []
            denied = set(parsed.negated.get(name) or [])
            base = [] if (replace and new_items) else list(cur or [])
            merged = [v for v in dedupe(base + list(new_items)) if v not in denied or v in new_items]
            if merged != (cur or []):
                patch[name] = merged
        elif name in parsed.values and parsed.values[name] != cur:
            patch[name] = parsed.values[name]
    try:
        ConstraintSchema.model_validate({**now, **patch})
    except ValidationError:
        return {k: v for k, v in patch.items() if _field_ok(now, k, v)}
    return patch


def _field_ok(now: dict[str, Any], name: str, value: Any) -> bool:
    try:
        ConstraintSchema.model_validate({**now, name: value})
        return True
    except ValidationError:
        return False


def apply_answers(current: ConstraintSchema, answers: dict[str, Any], text: str = "") -> ConstraintSchema:
    """`current` updated by typed answers (keyed by field) and free text; typed answers win.

    Each typed answer is coerced to its field's type ("6000" → 6000.0, "eu-west-1" →
    ["eu-west-1"]); one that cannot be raises `ValidationFailed` naming the field.
    """
    if not isinstance(answers, dict):
        raise ValidationFailed("answers must be an object keyed by constraint field name")
    base = current
    if text and text.strip():
        base = ConstraintSchema.model_validate({**current.model_dump(mode="json"), **extract_patch(text, current)})
    cloud_answer = answers.get("cloud")
    cloud = coerce_answer("cloud", cloud_answer, None) if cloud_answer not in (None, "") else base.cloud
    typed: dict[str, Any] = {}
    for name, value in answers.items():
        if name not in ConstraintSchema.model_fields:
            raise ValidationFailed(f"unknown constraint field '{name}'", details=[{"field": name}])
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # "don't know": leave the field as it is
        typed[name] = coerce_answer(name, value, cloud)
    try:
        return ConstraintSchema.model_validate({**base.model_dump(mode="json"), **typed})
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {}
        name = str(first.get("loc", ["?"])[0])
        raise ValidationFailed(f"invalid answer for '{name}': {first.get('msg', 'invalid value')}",
                               details=[{"field": name}]) from None
