"""Adaptive questioner: the fewest, highest-value follow-ups, and the assumptions otherwise made.

Questions come in a fixed order so that the same gaps always produce the same questions:
policy-blocking fields first (cloud just before regions, since region choices depend on
it), then contradictions that block, then the remaining mandatory fields by weight, then
warnings. Every question carries typed options and a default, so that answering is one
keystroke in a terminal or one click in the UI. What is not asked is assumed explicitly
(`assumptions`) and recorded in Reason Cards.
"""

from __future__ import annotations

from typing import Any, get_args

from amp_contracts import DATA_CLASS_ORDER, Assumption, Conflict, ConstraintSchema, Coverage, Question
from amp_contracts.constraints import Compliance

from .coverage import WEIGHTS
from .extract_gazetteer import CLOUDS, gazetteer

_PROMPTS: dict[str, str] = {
    "cloud": "Which cloud provider should this run on?",
    "regions": "Which region(s) must the system and its data live in?",
    "budget_monthly_usd": "What is the monthly budget ceiling in USD?",
    "workload_types": "Which kinds of workload are needed?",
    "data_classification": "What is the most sensitive kind of data the system handles?",
    "sla_latency_ms": "What p95 latency must a prediction meet, in milliseconds?",
    "availability_target": "What availability target applies (percent)?",
    "throughput_rps": "What peak load must it sustain, in requests or events per second?",
    "deployment_pref": "Serverless or containers?",
    "compliance": "Which compliance regimes apply?",
}
_WHY: dict[str, str] = {
    "cloud": "Every component, price and region choice depends on the provider.",
    "regions": "Data residency is a policy requirement; the plan cannot place data without it.",
    "budget_monthly_usd": "The cost critic checks the plan against this ceiling.",
    "workload_types": "Batch, streaming and online serving need different building blocks.",
    "data_classification": "Policy rules (encryption, isolation, compliance controls) depend on the data class.",
    "sla_latency_ms": "The latency target decides between serverless, containers and caching.",
    "availability_target": "Availability decides single- versus multi-zone or multi-region deployment.",
    "throughput_rps": "Peak load sizes the serving tier and its cost.",
    "deployment_pref": "It fixes the runtime of every service in the generated repository.",
    "compliance": "Compliance regimes add mandatory controls.",
}


def _default_region(c: ConstraintSchema) -> str | None:
    g = gazetteer()
    if "gdpr" in c.compliance and c.cloud:
        return g.eu_default(c.cloud)
    common = g.common_regions(c.cloud)
    return common[0] if common else None


def _region_options(c: ConstraintSchema) -> tuple[list[str], str | None, dict[str, list[str]]]:
    """Region options that follow the cloud: its own regions when known, else one list per cloud."""
    g = gazetteer()
    if c.cloud:
        own = [r for r in c.regions if g.cloud_of_region(r) == c.cloud]
        suggested = [r for r in [_default_region(c)] if r]  # e.g. the EU region first when GDPR applies
        return list(dict.fromkeys([*own, *suggested, *g.common_regions(c.cloud)])), None, {}
    by_cloud = {cloud: g.common_regions(cloud) for cloud in CLOUDS}
    return [r for regions in by_cloud.values() for r in regions], "cloud", by_cloud


def _field_question(name: str, c: ConstraintSchema, blocking: bool) -> Question:
    """The question for one missing field, with typed options and a sensible default.

    A required (blocking) question is never pre-answered: the person must choose.
    """
    kind: str = "text"
    options: list[str] = []
    default: Any = None
    depends_on: str | None = None
    options_by: dict[str, list[str]] = {}
    realtime = bool({"online", "streaming"} & set(c.workload_types))
    if name == "cloud":
        kind, options, default = "choice", list(CLOUDS), "aws"
    elif name == "regions":
        kind = "multi"
        options, depends_on, options_by = _region_options(c)
        region = _default_region(c)
        default = [region] if region and c.cloud else None
    elif name == "budget_monthly_usd":
        kind, options, default = "number", ["500", "2000", "5000", "20000", "50000"], None
    elif name == "workload_types":
        kind, options = "multi", ["batch", "streaming", "online"]
        default = ["online"] if (c.sla_latency_ms or c.throughput_rps) else ["batch"]
    elif name == "data_classification":
        kind, options = "choice", list(DATA_CLASS_ORDER)
        implied = {"hipaa": "phi", "pci_dss": "pci", "gdpr": "pii", "ccpa": "pii"}
        default = next((implied[x] for x in c.compliance if x in implied), "internal")
    elif name == "sla_latency_ms":
        kind, options = "number", ["50", "100", "200", "500", "1000"]
        default = 200.0 if "online" in c.workload_types else 1000.0
    elif name == "availability_target":
        kind, options, default = "choice", ["99.5", "99.9", "99.95", "99.99"], 99.9
    elif name == "throughput_rps":
        kind, options, default = "number", ["10", "100", "1000", "10000"], 50.0
    elif name == "deployment_pref":
        kind, options = "choice", ["serverless", "containers"]
        heavy = (c.throughput_rps or 0) >= 1000 or (c.sla_latency_ms is not None and c.sla_latency_ms < 100)
        default = "containers" if heavy or realtime else "serverless"
    elif name == "compliance":
        kind, options, default = "multi", list(get_args(Compliance)), []
    return Question(id=f"ask:{name}", field=name, prompt=_PROMPTS.get(name, f"What is the {name}?"), kind=kind,
                    options=options, default=None if blocking else default, why=_WHY.get(name, ""),
                    blocking=blocking, depends_on=depends_on, options_by=options_by)


def _current(c: ConstraintSchema, name: str) -> Any:
    value = getattr(c, name)
    return None if value in (None, [], "") else value


def _conflict_question(conflict: Conflict, c: ConstraintSchema) -> Question:
    """A conflict resolved by answering one of its fields again, with that field's own valid values.

    A blocking conflict must be answered (no pre-selection); a warning offers the value as stated,
    so leaving it as it is keeps it. The other side can always be changed in free text.
    """
    name = conflict.resolve or conflict.fields[0]
    blocking = conflict.severity == "block"
    base = _field_question(name, c, blocking=blocking)
    others = [f for f in conflict.fields if f != name]
    hint = f" (or change {', '.join(others)} in your own words)" if others else ""
    default = None if blocking else (_current(c, name) if _current(c, name) is not None else base.default)
    return base.model_copy(update={"id": "conflict:" + "+".join(conflict.fields),
                                   "prompt": f"{conflict.message} {base.prompt}{hint}", "default": default,
                                   "why": "Conflicting constraints would make the plan fail review."})


def next_questions(c: ConstraintSchema, coverage: Coverage, asked: set[str] | None = None,
                   limit: int = 3) -> list[Question]:
    """The minimum set of highest-value questions for the current gaps and conflicts.

    Never asks for a known field; never repeats a field or conflict in `asked` (field
    names or question ids) unless it blocks planning. Empty when coverage passed and
    nothing conflicts.
    """
    asked = set(asked or ())
    if limit <= 0 or (coverage.passed and not coverage.conflicts):
        return []
    known = {k for k in ConstraintSchema.model_fields if getattr(c, k) not in (None, [], "")}
    blocking = [f for f in coverage.blocking if f not in known]
    out: list[Question] = []

    def add(q: Question) -> None:
        if len(out) >= limit or any(x.id == q.id for x in out):
            return
        if not q.blocking and (q.field in asked or q.id in asked) and not q.id.startswith("conflict:"):
            return
        if q.id.startswith("conflict:") and q.id in asked and not q.blocking:
            return
        out.append(q)

    if "regions" in blocking and "cloud" not in known:
        add(_field_question("cloud", c, blocking=False))
    for name in blocking:
        add(_field_question(name, c, blocking=True))
    for conflict in coverage.conflicts:
        if conflict.severity == "block":
            add(_conflict_question(conflict, c))
    if not coverage.passed:
        rest = [f for f in coverage.missing if f not in known and f not in blocking]
        rest.sort(key=lambda f: -WEIGHTS.get(f, 0.0))
        for name in rest:
            add(_field_question(name, c, blocking=False))
    for conflict in coverage.conflicts:
        if conflict.severity != "block":
            add(_conflict_question(conflict, c))
    return out


#: Why `assumed_workloads` chose what it did, as the intake states it.
WORKLOADS_REASON = "No workload type stated; inferred from whether a latency or request rate was given."


def assumed_workloads(c: ConstraintSchema) -> list[str]:
    """The workloads planned for: those stated, else request/response serving when a latency or a
    request rate was given and batch work when neither was. The intake states this as an assumption
    and the planner plans it, so both say the same."""
    if c.workload_types:
        return list(c.workload_types)
    return ["online"] if (c.sla_latency_ms or c.throughput_rps) else ["batch"]


def _heavy(c: ConstraintSchema) -> bool:
    return (c.throughput_rps or 0) >= 1000 or (c.sla_latency_ms is not None and c.sla_latency_ms < 100)


def assumed_deployment(c: ConstraintSchema) -> tuple[str, str]:
    """The deployment a plan leans to when none is stated, and why: containers on the path that
    answers requests (no cold starts), and for stream processing too at a high load or a tight
    latency; serverless when everything is batch or light event work (nothing to pay between runs).
    The intake states it as an assumption and the planner weighs patterns by it
    (`deployment_assumed_for`), so the plan does what its assumption says."""
    workloads, heavy = assumed_workloads(c), _heavy(c)
    if "online" in workloads:
        return "containers", ("No deployment preference stated; managed containers serve requests without cold "
                              "starts" + (", and process the stream at this load" if heavy else "")
                              + "; other jobs take whatever fits them best.")
    if heavy:
        return "containers", ("No deployment preference stated; managed containers process the stream without cold "
                              "starts at this load or latency; other jobs take whatever fits them best.")
    if "streaming" in workloads:
        return "serverless", ("No deployment preference stated; at this load and latency serverless stream consumers "
                              "and jobs cost nothing while idle.")
    return "serverless", "No deployment preference stated; managed serverless jobs cost nothing between runs."


def _leans_to_containers(c: ConstraintSchema) -> bool:
    """`assumed_deployment`'s choice alone (asked once per pattern weighed: no reason text built)."""
    return "online" in assumed_workloads(c) or _heavy(c)


def deployment_assumed_for(c: ConstraintSchema, capability: str) -> str | None:
    """The assumed deployment (`assumed_deployment`) where it applies to this compute capability, else None."""
    if not _leans_to_containers(c):
        return "serverless"
    if capability == "serving_online" or (capability == "stream_processing" and _heavy(c)):
        return "containers"
    return None


def assumptions(c: ConstraintSchema, coverage: Coverage) -> list[Assumption]:
    """The explicit defaults planning uses for non-blocking unknowns (recorded in Reason Cards)."""
    out: list[Assumption] = []
    workloads = assumed_workloads(c)
    realtime = bool({"online", "streaming"} & set(workloads))
    blocking = set(coverage.blocking)

    def assume(name: str, value: Any, reason: str) -> None:
        if name not in blocking and getattr(c, name) in (None, [], ""):
            out.append(Assumption(field=name, value=value, reason=reason))

    assume("cloud", "aws", "No provider stated; AWS is the default target of the generated templates.")
    assume("workload_types", workloads, WORKLOADS_REASON)
    if realtime:
        assume("sla_latency_ms", 200.0 if "online" in workloads else 1000.0,
               "No latency target stated; 200 ms p95 for request/response, 1 s for event processing.")
        assume("throughput_rps", 50.0 if "online" in workloads else 100.0,
               "No peak load stated; sized for a modest 50 requests/s (100 events/s for streams), "
               "with autoscaling as headroom.")
    assume("deployment_pref", *assumed_deployment(c))
    assume("availability_target", 99.9, "No availability target stated; 99.9% (single region, multi-zone).")
    assume("budget_monthly_usd", None, "No budget stated; the cost critic reports the estimate without a ceiling.")
    if c.workload_types:
        assume("training_cadence", "weekly", "No retraining cadence stated; weekly scheduled retraining.")
    assume("gpu", False, "No GPU need stated; CPU instances are used for training and serving.")
    return out
