"""The planner: composes catalog patterns into a plan that answers the typed constraints.

Pure and deterministic: the same constraints (and feedback) give a byte-identical plan.
Every choice is scored against explicit constraints (`amp_domain.assessment`), and every
candidate weighed is kept with its pros, cons and the reason it lost, so a Reason Card can
show the alternatives. Only patterns a generated module builds are offered: one without a
module stays a candidate, rejected as such, and when it would have fitted better the plan says so.
"""

from __future__ import annotations

from amp_contracts import CAPABILITIES, Candidate, Component, ConstraintSchema, Plan, Risk
from amp_domain.assessment import (
    ALWAYS_CAPS,
    MULTI_REGION_AVAILABILITY,
    UNBUILT_REASON,
    Assessment,
    Context,
    build_context,
    multi_region,
    rank,
    size_pattern,
)
from amp_domain.catalog import catalog_version, load_catalog, load_meta
from amp_domain.compliance import SECURITY_CAPS, is_sensitive


def needed_capabilities(ctx: Context, notes: list[str] | None = None) -> list[str]:
    """The capabilities this workload needs, in the fixed vocabulary order."""
    c = ctx.constraints
    meta = load_meta()
    implied = meta.implied_by_existing
    existing = set(c.existing_stack)
    caps: set[str] = set(ALWAYS_CAPS)
    stream = ctx.stream or bool(existing & set(implied.get("ingest_stream", [])))
    if ctx.online:
        caps.add("serving_online")
    if stream:
        caps.update(("ingest_stream", "stream_processing"))
        if not ctx.stream and notes is not None:
            notes.append("an existing stream source is in existing_stack: the plan ingests and processes it")
    if stream and ctx.online:
        caps.add("feature_store")
    if existing & set(implied.get("feature_store", [])):
        caps.add("feature_store")
    caps.update(cap for cap, prefs in meta.implied_by_preference.items() if set(c.storage_prefs) & set(prefs))
    if "batch" in ctx.workloads:
        caps.update(("orchestration", "ingest_batch"))
        if c.batch_scoring is not False or not (ctx.online or ctx.stream):
            caps.add("serving_batch")
        elif notes is not None:
            notes.append("the batch work stated is scheduled retraining only: no batch scoring is planned "
                         f"({'online serving answers' if ctx.online else 'the stream consumer makes'} the predictions)")
    if c.training_cadence or existing & set(implied.get("orchestration", [])):
        caps.add("orchestration")
    if is_sensitive(c):
        caps.update(SECURITY_CAPS)
    return [cap for cap in CAPABILITIES if cap in caps]


def _justify(win: Assessment, ranked: list[Assessment], capability: str) -> str:
    p = win.pattern
    text = f"{p.name} for {capability}"
    reasons = win.reasons or [f"best fit among {len(ranked)} catalog patterns ({p.deployment}, {p.cost_class} cost)"]
    text += ": " + "; ".join(reasons)
    runner = next((a for a in ranked if a is not win), None)
    if runner is not None:
        why = runner.reject or (f"tied at {win.score:g}; {p.id} wins the tie (ties go by id, alphabetically)"
                                if runner.score == win.score else f"scored {runner.score:g} vs {win.score:g}")
        text += f". Runner-up {runner.pattern.id}: {why}"
    if win.reject:
        text += f". Chosen although {win.reject}: no catalog pattern satisfies every constraint"
    return text


def _unbuilt_better(ranked: list[Assessment], win: Assessment) -> Assessment | None:
    """The best pattern that lost only because no generated module builds it, if it beats the choice."""
    best = next((a for a in sorted(ranked, key=lambda a: (-a.score, a.pattern.id))
                 if a.reject == UNBUILT_REASON and a is not win), None)
    if best is None or (win.reject is None and best.score <= win.score):
        return None
    return best


def _component(capability: str, ctx: Context, questions: list[str], notes: list[str]) -> Component:
    ranked = rank(capability, ctx)
    usable = [a for a in ranked if not a.hard]
    win = usable[0] if usable else ranked[0]
    better = _unbuilt_better(ranked, win)
    if win.reject:
        questions.append(f"{capability}: no buildable {ctx.cloud} pattern meets every constraint; {win.pattern.id} "
                         f"chosen although {win.reject}"
                         + (f" ({better.pattern.id} would, but {UNBUILT_REASON})" if better else ""))
    elif better is not None:
        notes.append(f"{capability}: {better.pattern.id} scores higher ({better.score:g} vs {win.score:g}) but "
                     f"{UNBUILT_REASON}: {win.pattern.id} is planned, the best pattern the repository builds")
    regions = ctx.component_regions(capability)
    candidates = []
    for a in ranked:
        lost = None if a is win else (a.reject or (
            f"tied with {win.pattern.id} at {a.score:g}; {win.pattern.id} wins the tie (ties go by id, alphabetically)"
            if a.score == win.score else f"scored {a.score:g}, below {win.pattern.id} ({win.score:g})"))
        candidates.append(Candidate(id=a.pattern.id, summary=a.pattern.summary, pros=a.pros, cons=a.cons,
                                    tradeoffs=a.tradeoffs, score=a.score, rejected_because=lost,
                                    eligible=not a.hard))
    p = win.pattern
    return Component(capability=capability, pattern_id=p.id, name=p.name, service=p.service, regions=regions,
                     deployment=p.deployment, sizing=size_pattern(p, ctx, regions), answers=sorted(win.answers),
                     justification=_justify(win, ranked, capability), candidates=candidates)


def compose_plan(constraints: ConstraintSchema, feedback: list[Risk] | None = None, round: int = 1) -> Plan:
    """Compose the plan for these constraints; `feedback` risks with replan=True exclude their pattern.

    A revision driven by feedback is numbered `round + 1`.
    """
    notes: list[str] = []
    questions: list[str] = []
    ctx = build_context(constraints, feedback, notes, questions)
    caps = needed_capabilities(ctx, notes)
    if len(ctx.regions) >= 2 and not multi_region(constraints, list(ctx.regions)):
        questions.append(f"regions {', '.join(ctx.regions)} given without a >= {MULTI_REGION_AVAILABILITY}% target: "
                         f"serving runs in {ctx.primary}, storage replicates to all; should serving be active-active?")
    if (constraints.availability_target or 0) >= MULTI_REGION_AVAILABILITY and len(ctx.regions) < 2:
        questions.append(f"{constraints.availability_target:g}% availability usually needs a second region; "
                         "which region may be used?")
    components = [_component(cap, ctx, questions, notes) for cap in caps]
    components += _needed(components, ctx, questions, notes)
    components.sort(key=lambda comp: CAPABILITIES.index(comp.capability))
    revised = bool(ctx.excluded)
    return Plan(cloud=ctx.cloud, regions=list(ctx.regions), components=components,
                assumptions=_dedupe(notes), open_questions=_dedupe(questions),
                catalog_version=catalog_version(), round=round + 1 if revised else round)


def _needed(components: list[Component], ctx: Context, questions: list[str], notes: list[str]) -> list[Component]:
    """Capabilities a chosen pattern cannot run without (a Fargate service needs a private network)."""
    cat = load_catalog(ctx.cloud)
    have = {c.capability for c in components}
    added: list[Component] = []
    for comp in components:
        pattern = cat.pattern(comp.pattern_id)
        for cap in pattern.needs if pattern else []:
            if cap not in have:
                have.add(cap)
                notes.append(f"{comp.pattern_id} cannot run without {cap}: {cap} added to the plan")
                added.append(_component(cap, ctx, questions, notes))
    return added


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for x in items:
        seen.setdefault(x, None)
    return list(seen)
