"""How well each catalog pattern fits typed constraints: the context, the sizing inputs and the scores.

Pure and deterministic. The planner ranks patterns with it to compose a plan; the technical
critic asks it which eligible alternative a replan could switch to; the cost critic sizes a
plan's bill of materials from the same inputs. Hard constraints (deployment preference,
compliance eligibility, region availability, a reuse pattern's prerequisite) reject a
candidate, and a pattern no generated module builds is never offered (rejected as such, ahead of
any other choice: the plan is what the repository builds); soft ones (latency floor, throughput ceiling, availability topology, skills, cost
class) move its score, and every point is explained.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from amp_contracts import CAPABILITIES, FIELD_LABELS, Component, ConstraintSchema, Plan, Risk

from .catalog import Catalog, Pattern, evaluate, expression_names, load_catalog, load_meta, region_index
from .compliance import required_regimes
from .requirements.questions import assumed_workloads, deployment_assumed_for

ALWAYS_CAPS: tuple[str, ...] = ("storage", "training", "registry", "monitoring", "ci_cd")
#: Capabilities a multi-region (>= 99.99 %) plan deploys in every region; the rest stay primary.
MULTI_REGION_CAPS: frozenset[str] = frozenset({"serving_online", "feature_store", "storage", "monitoring",
                                               "security_kms", "networking_private", "audit_logging"})
GPU_CAPS: frozenset[str] = frozenset({"training", "serving_online", "serving_batch"})
STREAM_CAPS: frozenset[str] = frozenset({"ingest_stream", "stream_processing"})
LANGUAGES: frozenset[str] = frozenset({"python", "go", "scala", "r", "sql", "typescript", "java", "c++", "rust",
                                       "csharp", "javascript", "kotlin"})
MULTI_REGION_AVAILABILITY = 99.99
MULTI_AZ_AVAILABILITY = 99.9
COST_POINTS = {"low": 6.0, "medium": 3.0, "high": 0.0}
TIGHT_BUDGET_USD = 2000.0
#: Why a pattern no generated module builds is never chosen (it stays a candidate, with this reason).
UNBUILT_REASON = "no generated module builds it yet"


def carried_rps(env: dict[str, Any], capability: str) -> float:
    """The peak rate a capability carries (sizing inputs `env`): online serving the API's requests,
    the rest every event."""
    return float(env["serve_rps"] if capability == "serving_online" else env["rps"])


def multi_region(c: ConstraintSchema, regions: list[str]) -> bool:
    return len(regions) >= 2 and (c.availability_target or 0) >= MULTI_REGION_AVAILABILITY


# --------------------------------------------------------------------------- context

@dataclass(frozen=True)
class Context:
    """What every scoring step reads: constraints plus the resolved cloud, regions and workloads."""

    constraints: ConstraintSchema
    cloud: str
    regions: tuple[str, ...]
    workloads: tuple[str, ...]
    regimes: tuple[str, ...]
    env: dict[str, Any]
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def primary(self) -> str:
        return self.regions[0]

    @property
    def stream(self) -> bool:
        return "streaming" in self.workloads

    @property
    def online(self) -> bool:
        return "online" in self.workloads

    def component_regions(self, capability: str) -> list[str]:
        c = self.constraints
        if multi_region(c, list(self.regions)) and capability in MULTI_REGION_CAPS:
            return list(self.regions)
        if capability == "storage" and len(self.regions) >= 2:
            return list(self.regions)
        return [self.primary]

    def on_latency_path(self, capability: str) -> bool:
        """Whether the stated SLA bounds this capability's latency."""
        if capability in ("serving_online", "feature_store"):
            return self.online
        if capability in STREAM_CAPS:
            return self.stream and not self.online
        return False

    def rate(self, capability: str) -> float:
        return carried_rps(self.env, capability)

    def carries_traffic(self, capability: str) -> bool:
        if capability in ("serving_online", "feature_store"):
            return self.online
        return capability in STREAM_CAPS


def resolve_cloud(c: ConstraintSchema, notes: list[str]) -> str:
    if c.cloud:
        return c.cloud
    clouds = sorted({region_index()[r][0] for r in c.regions if r in region_index()})
    if len(clouds) == 1:
        notes.append(f"cloud not stated: {clouds[0]} inferred from the region codes {', '.join(c.regions)}")
        return clouds[0]
    default = load_meta().default_cloud
    notes.append(f"cloud not stated: planned on {default} (the catalog default); state a cloud to change it")
    return default


#: How a jurisdiction reads in a note; the others read as their code.
RESIDENCY_LABELS = {"eea": "the EU/EEA", "us": "the US", "us-gov": "US government regions", "uk": "the UK",
                    "ch": "Switzerland", "ca": "Canada"}


def residency_region(cat: Catalog, geo: str) -> str | None:
    """The region a plan uses for data that must stay in `geo`: the cloud's default where it lies there."""
    for preferred in (cat.default_region, cat.gdpr_default_region):
        region = cat.region(preferred)
        if region is not None and region.geo == geo:
            return preferred
    return next((r.code for r in cat.regions if r.geo == geo), None)


def resolve_regions(c: ConstraintSchema, cat: Catalog, notes: list[str], questions: list[str]) -> list[str]:
    if c.regions:
        unknown = [r for r in c.regions if cat.region(r) is None]
        if unknown:
            questions.append(f"region(s) {', '.join(unknown)} are not {cat.cloud} regions the catalog knows; "
                             "availability and prices there are assumed")
        return list(c.regions)
    if c.data_residency:
        region = residency_region(cat, c.data_residency)
        if region is not None:
            notes.append(f"regions not stated: the data must stay in {RESIDENCY_LABELS.get(c.data_residency, c.data_residency)}, "
                         f"so {region} is assumed")
            return [region]
        questions.append(f"no {cat.cloud} region the catalog knows is in {c.data_residency}, where the data must stay: "
                         "which region?")
    if "gdpr" in c.compliance:
        notes.append(f"regions not stated: GDPR applies, so the EU region {cat.gdpr_default_region} is assumed")
        return [cat.gdpr_default_region]
    notes.append(f"regions not stated: {cat.default_region} (the {cat.cloud} default region) is assumed")
    return [cat.default_region]


def resolve_workloads(c: ConstraintSchema, notes: list[str]) -> tuple[str, ...]:
    """The workloads planned for: the stated ones, or the intake's assumption (`assumed_workloads`)."""
    workloads = tuple(sorted(set(assumed_workloads(c))))
    if not c.workload_types:
        given = "a latency or request rate was" if "online" in workloads else "no latency or request rate was"
        notes.append(f"workload types not stated: {', '.join(workloads)} assumed ({given} given)")
    return workloads


def sizing_inputs(c: ConstraintSchema, workloads: Iterable[str] = ("online",),
                  notes: list[str] | None = None) -> dict[str, Any]:
    """The sizing environment (meta.yaml inputs and derived values) for these constraints.

    A stated constraint is used as is (capped where meta.yaml says so); an unstated one takes
    the catalog default, stated in `notes`. Traffic inputs are zero for a batch-only workload.
    """
    meta = load_meta().sizing
    wl = set(workloads)
    traffic = bool(wl & {"online", "streaming"})
    env: dict[str, Any] = {}
    for name, spec in meta.inputs.items():
        value = getattr(c, spec.field)
        stated = value is not None
        if not stated:
            value = spec.default
            if name == "rps" and not traffic:
                value = 0
            elif notes is not None and name not in ("gpu", "api_rps") and (traffic or name not in ("rps", "sla_ms")) \
                    and ("batch" in wl or name != "score_runs"):
                notes.append(f"{FIELD_LABELS.get(spec.field, spec.field)} not stated: sized for {value} ({spec.note})")
        if spec.map is not None:
            value = spec.map.get(str(value), spec.map.get(str(spec.default), 1.0))
        if isinstance(value, bool):
            value = int(value)
        if spec.cap is not None and value > spec.cap:
            if notes is not None:
                notes.append(f"{FIELD_LABELS.get(spec.field, spec.field)} {value} exceeds the sizing range: sized for {spec.cap:g}")
            value = spec.cap
        env[name] = value
    # What runs, for the derived values that scale with it (what is logged per request or per event).
    env["online"] = int("online" in wl)
    env["streaming"] = int("streaming" in wl)
    for name, expr in meta.derived.items():
        env[name] = evaluate(expr, env)
    return env


def build_context(c: ConstraintSchema, feedback: list[Risk] | None = None,
                  notes: list[str] | None = None, questions: list[str] | None = None) -> Context:
    notes = [] if notes is None else notes
    questions = [] if questions is None else questions
    cloud = resolve_cloud(c, notes)
    cat = load_catalog(cloud)
    regions = resolve_regions(c, cat, notes, questions)
    workloads = resolve_workloads(c, notes)
    env = sizing_inputs(c, workloads, notes)
    excluded: dict[str, str] = {}
    for r in sorted(feedback or [], key=lambda r: (r.id, r.component or "")):
        if r.replan and r.component and r.component.startswith(f"{cloud}:"):
            excluded.setdefault(r.component, r.title)
    return Context(constraints=c, cloud=cloud, regions=tuple(regions), workloads=workloads,
                   regimes=tuple(required_regimes(c)), env=env, excluded=excluded)


# --------------------------------------------------------------------------- capabilities

# --------------------------------------------------------------------------- scoring

@dataclass
class Assessment:
    pattern: Pattern
    score: float = 50.0
    reject: str | None = None
    hard: bool = False
    pros: list[str] = field(default_factory=list)
    cons: list[str] = field(default_factory=list)
    tradeoffs: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    answers: set[str] = field(default_factory=set)

    def reject_with(self, why: str, hard: bool = False) -> None:
        self.reject = why if self.reject is None else f"{self.reject}; {why}"
        self.hard = self.hard or hard


#: Points a compute pattern gets for matching the (stated or assumed) deployment preference.
_DEPLOYMENT_BONUS = {("containers", "containers"): 15, ("containers", "managed"): 5,
                     ("serverless", "serverless"): 15, ("serverless", "managed"): 8}


def assess(p: Pattern, capability: str, ctx: Context) -> Assessment:
    """Score one pattern for one capability against the constraints; explain every point."""
    c = ctx.constraints
    a = Assessment(pattern=p, pros=list(p.pros), cons=list(p.cons))
    existing = set(c.existing_stack)
    regions = ctx.component_regions(capability)

    if not p.buildable:
        # The plan is what the repository builds: a pattern without a generated module is weighed and
        # shown, but never offered. When no buildable pattern meets a soft constraint, the best
        # buildable one is chosen and the feasibility checks report the gap, as for any other.
        a.reject_with(UNBUILT_REASON, hard=True)
    missing = [t for t in p.requires_existing if t not in existing]
    if missing:
        a.reject_with(f"reuses {', '.join(missing)}, which the team does not run (existing stack)", hard=True)
    elif p.requires_existing:
        a.score += 30
        a.answers.add("existing_stack")
        a.reasons.append(f"the team already runs {', '.join(p.requires_existing)}: reused instead of new infrastructure")

    pref = c.deployment_pref
    meta = load_meta()
    if pref == "containers" and p.deployment == "serverless":
        a.reject_with("containers were asked for, which rules out serverless patterns")
    elif pref == "serverless" and p.deployment == "containers":
        a.reject_with("serverless was asked for, which rules out container patterns")
    elif pref is not None and capability in meta.compute_capabilities:
        bonus = _DEPLOYMENT_BONUS.get((pref, p.deployment), 0)
        a.score += bonus
        if bonus:
            a.answers.add("deployment_pref")
            a.reasons.append(f"{pref} asked for: {p.deployment} deployment")
    elif capability in meta.compute_capabilities and (assumed := deployment_assumed_for(c, capability)):
        # Not stated: the deployment the intake assumed, weighed like a stated one but ruling nothing out.
        bonus = _DEPLOYMENT_BONUS.get((assumed, p.deployment), 0)
        a.score += bonus
        if bonus:
            a.reasons.append(f"no deployment stated, {assumed} assumed: {p.deployment} deployment")
    else:
        a.score += {"managed": 5, "serverless": 3, "containers": 0}[p.deployment]

    wanted = sorted(set(meta.preferred_features.get(capability, [])) & set(p.features))
    if wanted:
        a.score += 3 * len(wanted)
        a.pros.append(f"has {', '.join(wanted)}")

    not_eligible = [r for r in ctx.regimes if r not in p.compliance]
    if not_eligible:
        a.reject_with(f"not eligible for {', '.join(not_eligible)}")
    elif ctx.regimes:
        a.answers.add("compliance")
        a.reasons.append(f"compliance {', '.join(ctx.regimes)}: eligible")

    unavailable = [r for r in regions if not p.available_in(r)]
    if unavailable:
        a.reject_with(f"not available in {', '.join(unavailable)}")
    elif c.regions:
        a.answers.add("regions")

    if p.id in ctx.excluded:
        a.reject_with(f"replaced after critic feedback: {ctx.excluded[p.id]}")

    fits = sorted(set(p.affinity) & (existing | set(c.storage_prefs) | set(c.observability_prefs)))
    if fits:
        a.score += 12 * min(2, len(fits))
        a.answers.add("existing_stack" if set(fits) & existing else "storage_prefs")
        a.reasons.append(f"fits what the team uses or prefers: {', '.join(fits)}")

    env = ctx.env
    if ctx.on_latency_path(capability) and p.latency_floor_ms is not None:
        sla = env["sla_ms"]
        if p.latency_floor_ms > sla:
            a.score -= 40
            a.cons.append(f"latency floor {p.latency_floor_ms:g} ms exceeds the {sla:g} ms SLA")
        elif c.sla_latency_ms is not None:
            a.score += 4 if p.latency_floor_ms <= sla / 4 else 0
            a.answers.add("sla_latency_ms")
            a.reasons.append(f"latency target {sla:g} ms: its floor of {p.latency_floor_ms:g} ms fits")
        if p.cold_start_ms and sla < p.cold_start_ms:
            a.score -= 10
            a.tradeoffs.append(f"cold starts of ~{p.cold_start_ms} ms exceed the {sla:g} ms SLA unless capacity is kept warm")
    if ctx.carries_traffic(capability) and p.throughput_ceiling_rps is not None:
        rps = ctx.rate(capability)
        if rps > p.throughput_ceiling_rps:
            a.score -= 35
            a.cons.append(f"throughput ceiling {p.throughput_ceiling_rps:g} rps is below the {rps:g} rps peak")
        elif c.throughput_rps is not None:
            a.answers.add("throughput_rps")
            a.reasons.append(f"peak load {rps:g}/s: within its {p.throughput_ceiling_rps:g}/s ceiling")

    if c.gpu and capability in GPU_CAPS:
        if p.gpu:
            a.score += 5
            a.answers.add("gpu")
            a.reasons.append("gpu: GPU instances supported")
        else:
            a.score -= 30
            a.cons.append("no GPU support")

    availability = env["availability"]
    if availability >= MULTI_AZ_AVAILABILITY and not p.multi_az:
        a.score -= 20
        a.cons.append(f"single-AZ: weak for {availability:g}% availability")
    if multi_region(c, list(ctx.regions)) and capability in MULTI_REGION_CAPS:
        if p.multi_region_capable:
            a.answers.add("availability_target")
            a.reasons.append(f"availability {availability:g}%: runs active-active in {', '.join(ctx.regions)}")
        else:
            a.score -= 25
            a.cons.append("not multi-region capable")

    langs = set(c.team_languages)
    plangs = set(p.skills) & LANGUAGES
    if langs and plangs:
        if langs & plangs:
            a.score += 6
            a.answers.add("team_languages")
            a.reasons.append(f"the team writes {', '.join(sorted(langs & plangs))}, which it supports")
        else:
            a.score -= 8
            a.cons.append(f"team writes {', '.join(sorted(langs))}, pattern needs {', '.join(sorted(plangs))}")
    if "kubernetes" in p.skills and "kubernetes" not in existing and pref != "containers":
        a.score -= 4
        a.tradeoffs.append("needs Kubernetes operations skills the requirements do not mention")

    tight = c.budget_monthly_usd is not None and c.budget_monthly_usd < TIGHT_BUDGET_USD
    a.score += COST_POINTS[p.cost_class] * (2 if tight else 1)
    if tight and p.cost_class == "low":
        a.answers.add("budget_monthly_usd")
        a.reasons.append(f"monthly budget ${c.budget_monthly_usd:,.0f}: low cost class")

    a.tradeoffs.append(f"{p.deployment} deployment, {p.cost_class} cost"
                       + (f", latency floor {p.latency_floor_ms:g} ms" if p.latency_floor_ms is not None else ""))
    a.score = round(a.score, 1)
    return a


def rank(capability: str, ctx: Context) -> list[Assessment]:
    """All catalog patterns for a capability, best first (eligible before rejected; score; id)."""
    cat = load_catalog(ctx.cloud)
    out = [assess(p, capability, ctx) for p in cat.for_capability(capability)]
    return sorted(out, key=lambda a: (a.reject is not None, a.hard, -a.score, a.pattern.id))


def alternatives(capability: str, constraints: ConstraintSchema, current: str) -> list[Assessment]:
    """Eligible patterns other than `current` for a capability (what a replan could switch to)."""
    ctx = build_context(constraints)
    return [a for a in rank(capability, ctx) if a.reject is None and a.pattern.id != current]


# --------------------------------------------------------------------------- sizing

def size_pattern(p: Pattern, ctx: Context, regions: list[str]) -> dict[str, Any]:
    env = {**ctx.env, "region_count": len(regions)}
    sizing: dict[str, Any] = {}
    basis: set[str] = set()
    for key, expr in p.sizing.items():
        val = evaluate(expr, {**env, **sizing})
        sizing[key] = round(val, 3) if isinstance(val, float) else val
        if isinstance(expr, str):
            basis.update(n for n in expression_names(expr) if n in ctx.env)
    if basis:
        sizing["basis"] = {n: (round(ctx.env[n], 3) if isinstance(ctx.env[n], float) else ctx.env[n])
                           for n in sorted(basis)}
    return sizing


def sample_plan(cloud: str, capabilities: Iterable[str] | None = None) -> Plan:
    """Every capability realised by its best-ranked pattern for a default online/batch/streaming workload.

    Not a plan anyone reviews: services load their data and warm their caches with it before the
    first message, so the first real step does not pay for it.
    """
    c = ConstraintSchema(cloud=cloud, workload_types=["online", "batch", "streaming"])
    ctx = build_context(c)
    components = []
    for cap in capabilities or CAPABILITIES:
        ranked = rank(cap, ctx)
        if not ranked:
            continue
        p = ranked[0].pattern
        regions = ctx.component_regions(cap)
        components.append(Component(capability=cap, pattern_id=p.id, name=p.name, service=p.service,
                                    regions=regions, deployment=p.deployment, sizing=size_pattern(p, ctx, regions)))
    return Plan(cloud=ctx.cloud, regions=list(ctx.regions), components=components)
