"""Constraint Coverage Score: how much of what planning needs is known, and what contradicts.

The score is a weighted share of the fields planning depends on. Mandatory fields carry
most of the weight; latency and throughput only count when an online or streaming
workload makes them meaningful, so a nightly batch job is not penalised for having no
p95. Policy-required fields (region, data class) block planning whatever the score,
because picking them silently could put regulated data in the wrong place.
"""

from __future__ import annotations

from amp_contracts import Conflict, ConstraintSchema, Coverage

from ..catalog import region_geo
from .extract_gazetteer import gazetteer

#: Relative weight of each field in the score (normalised over the applicable ones).
#: Mandatory for planning: cloud, regions, budget, workload types, data class, and the
#: latency SLO where a workload answers in real time. The rest refine the plan.
WEIGHTS: dict[str, float] = {
    "cloud": 0.15,
    "regions": 0.15,
    "budget_monthly_usd": 0.15,
    "workload_types": 0.15,
    "data_classification": 0.15,
    "sla_latency_ms": 0.10,
    "availability_target": 0.05,
    "throughput_rps": 0.05,
    "deployment_pref": 0.05,
}
MANDATORY: tuple[str, ...] = ("cloud", "regions", "budget_monthly_usd", "workload_types", "sla_latency_ms",
                              "data_classification")
#: Missing fields a policy requires before planning (data residency, data handling).
POLICY_REQUIRED: tuple[str, ...] = ("regions", "data_classification")
#: Fields that only apply to request/response or event work.
REALTIME_ONLY: frozenset[str] = frozenset({"sla_latency_ms", "throughput_rps"})

SERVERLESS_MIN_P95_MS = 20.0
SERVERLESS_MAX_RPS = 10_000.0
NETWORK_FLOOR_MS = 5.0
MULTI_REGION_AVAILABILITY = 99.99


def _known(c: ConstraintSchema, name: str) -> bool:
    if name == "regions" and c.data_residency and not c.regions:
        return True  # the plan takes the jurisdiction's region, which policy holds it to (no question)
    return getattr(c, name) not in (None, [], "")


def _realtime(c: ConstraintSchema) -> bool:
    return bool({"online", "streaming"} & set(c.workload_types))


def applicable_weights(c: ConstraintSchema) -> dict[str, float]:
    """The weights that apply to `c`, normalised to sum to 1."""
    fields = {k: w for k, w in WEIGHTS.items() if k not in REALTIME_ONLY or _realtime(c)}
    total = sum(fields.values())
    return {k: round(w / total, 6) for k, w in fields.items()}


def conflicts(c: ConstraintSchema) -> list[Conflict]:
    """Contradictions and risky combinations, each explained; 'block' ones must be resolved."""
    out: list[Conflict] = []
    if c.deployment_pref == "serverless" and c.sla_latency_ms is not None and c.sla_latency_ms < SERVERLESS_MIN_P95_MS:
        out.append(Conflict(
            fields=["deployment_pref", "sla_latency_ms"], severity="block", resolve="deployment_pref",
            message=f"Serverless cold starts and per-invocation overhead cannot hold a {c.sla_latency_ms:g} ms p95 "
                    f"(below {SERVERLESS_MIN_P95_MS:g} ms); choose containers or relax the latency target."))
    if c.deployment_pref == "serverless" and c.throughput_rps is not None and c.throughput_rps >= SERVERLESS_MAX_RPS:
        out.append(Conflict(
            fields=["deployment_pref", "throughput_rps"], severity="warn", resolve="deployment_pref",
            message=f"{c.throughput_rps:g} requests/s on serverless hits concurrency limits and costs more than "
                    "provisioned containers at that load."))
    if "hipaa" in c.compliance and c.data_classification == "public":
        out.append(Conflict(
            fields=["compliance", "data_classification"], severity="block", resolve="data_classification",
            message="HIPAA applies only to protected health information, yet the data is classified public; "
                    "one of the two is wrong."))
    if c.data_classification == "pci" and "pci_dss" not in c.compliance:
        out.append(Conflict(
            fields=["data_classification", "compliance"], severity="warn", resolve="compliance",
            message="Cardholder data is in scope but PCI DSS is not listed; PCI DSS controls will be assumed."))
    if c.data_classification == "phi" and "hipaa" not in c.compliance and c.cloud is not None and any(
            r.startswith("us") for r in c.regions):
        out.append(Conflict(
            fields=["data_classification", "compliance"], severity="warn", resolve="compliance",
            message="Health data in a US region usually falls under HIPAA, which is not listed."))
    if c.cloud is not None and c.regions:
        g = gazetteer()
        foreign = [r for r in c.regions if g.cloud_of_region(r) not in (None, c.cloud)]
        unknown = [r for r in c.regions if g.cloud_of_region(r) is None]
        if foreign:
            out.append(Conflict(
                fields=["cloud", "regions"], severity="block", resolve="regions",
                message=f"Region(s) {', '.join(foreign)} do not belong to {c.cloud}."))
        if unknown:
            out.append(Conflict(
                fields=["regions"], severity="block", resolve="regions",
                message=f"Unknown region code(s): {', '.join(unknown)}."))
    outside = [r for r in c.regions if c.data_residency and region_geo(r) not in (None, c.data_residency)]
    if outside:
        out.append(Conflict(
            fields=["data_residency", "regions"], severity="block", resolve="regions",
            message=f"Region(s) {', '.join(outside)} are outside {c.data_residency}, where the data must stay."))
    if c.availability_target is not None and c.availability_target >= MULTI_REGION_AVAILABILITY and len(c.regions) == 1:
        out.append(Conflict(
            fields=["availability_target", "regions"], severity="warn", resolve="regions",
            message=f"{c.availability_target:g}% availability is above what one region's SLA offers; "
                    "a second region (active-active or warm standby) is needed."))
    if c.sla_latency_ms is not None and c.sla_latency_ms < NETWORK_FLOOR_MS:
        out.append(Conflict(
            fields=["sla_latency_ms"], severity="warn", resolve="sla_latency_ms",
            message=f"A {c.sla_latency_ms:g} ms target is below a network round trip; only in-process or "
                    "edge inference can meet it."))
    if "fedramp" in c.compliance and c.cloud in ("aws", "azure") and c.regions and not any(
            "gov" in r for r in c.regions):
        out.append(Conflict(
            fields=["compliance", "regions"], severity="warn", resolve="regions",
            message="Commercial regions cover FedRAMP Moderate only; FedRAMP High needs a government region "
                    "(AWS GovCloud, Azure Government). Confirm the impact level."))
    return out


def check_coverage(c: ConstraintSchema, threshold: float = 0.7) -> Coverage:
    """Coverage score, missing and blocking fields, and conflicts of a Constraint Schema.

    Score = sum of the applicable weights (see `WEIGHTS`) of the known fields. `passed`
    needs the score at the threshold, no policy-required field missing and no conflict
    of severity 'block'.
    """
    weights = applicable_weights(c)
    score = round(min(1.0, sum(w for k, w in weights.items() if _known(c, k))), 6)
    missing = [k for k in MANDATORY if k in weights and not _known(c, k)]
    blocking = [k for k in POLICY_REQUIRED if not _known(c, k)]
    found = conflicts(c)
    passed = score >= threshold and not blocking and not any(x.severity == "block" for x in found)
    return Coverage(score=score, threshold=threshold, passed=passed, missing=missing, blocking=blocking,
                    conflicts=found, weights=weights)
