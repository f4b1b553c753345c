"""The technical critic: feasibility, single points of failure, coupling, quotas, observability.

It reads the plan and the catalog attributes of each chosen pattern, never free text, so
the same plan always yields the same risks in the same order. A risk asks for a replan only
when another eligible catalog pattern would remove it; otherwise it carries a probe (an
experiment that confirms or dismisses it) for the human reviewer.
"""

from __future__ import annotations

from collections.abc import Callable

from amp_contracts import Component, ConstraintSchema, Plan, Risk
from amp_domain.assessment import (
    MULTI_AZ_AVAILABILITY,
    MULTI_REGION_AVAILABILITY,
    Assessment,
    alternatives,
    carried_rps,
    required_regimes,
    resolve_workloads,
    sizing_inputs,
)
from amp_domain.build import team_work
from amp_domain.catalog import Pattern, load_catalog

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
#: Fraction of the SLA the platform floor may take before headroom is called thin.
THIN_HEADROOM = 0.7
#: Fraction of a throughput ceiling above which the peak is close to the limit.
NEAR_CEILING = 0.7
SERVERLESS_CONCURRENCY = 1000
HIGH_RPS = 10000
GPU_QUOTA_INSTANCES = 4
INSTANCE_KEYS = ("instances", "replicas", "tasks", "nodes")


def _instances(comp: Component) -> int | None:
    for key in INSTANCE_KEYS:
        val = comp.sizing.get(key)
        if isinstance(val, (int, float)):
            return int(val)
    return None


class _Critic:
    """One critique run: the plan, its constraints, and the resolved sizing inputs."""

    def __init__(self, plan: Plan, constraints: ConstraintSchema) -> None:
        self.plan = plan
        self.c = constraints
        self.workloads = resolve_workloads(constraints, [])
        self.env = sizing_inputs(constraints, self.workloads)
        self.catalog = load_catalog(plan.cloud) if plan.cloud in ("aws", "gcp", "azure") else None
        self.risks: list[Risk] = []

    def pattern(self, comp: Component) -> Pattern | None:
        return self.catalog.pattern(comp.pattern_id) if self.catalog else None

    def rate(self, capability: str) -> float:
        return carried_rps(self.env, capability)

    def can_replan(self, comp: Component, fixes: Callable[[Assessment], bool]) -> bool:
        if self.catalog is None:
            return False
        return any(fixes(a) for a in alternatives(comp.capability, self.c, comp.pattern_id))

    def add(self, kind: str, comp: Component | None, severity: str, title: str, detail: str, probe: str,
            replan: bool = False) -> None:
        rid = f"{kind}:{comp.capability}" if comp is not None else kind
        self.risks.append(Risk(id=rid, severity=severity, title=title, detail=detail, probe=probe, replan=replan,  # type: ignore[arg-type]
                               component=comp.pattern_id if comp is not None else None))

    # ------------------------------------------------------------------ checks

    def latency(self) -> None:
        sla = self.c.sla_latency_ms
        if sla is None:
            return
        online = "online" in self.workloads
        path = ["serving_online"] if online else ["ingest_stream", "stream_processing"]
        for cap in path:
            comp = self.plan.component(cap)
            p = self.pattern(comp) if comp else None
            if comp is None or p is None or p.latency_floor_ms is None:
                continue
            floor, rps = p.latency_floor_ms, self.rate(cap)
            probe = (f"load-test {comp.pattern_id} at 1.5x peak ({1.5 * rps:g} rps) for 30 min with "
                     f"production-sized payloads and record p95/p99 against the {sla:g} ms SLA")
            if floor > sla:
                self.add("latency_floor", comp, "high", f"{p.name} cannot meet the {sla:g} ms SLA",
                         f"the pattern's latency floor is {floor:g} ms before any model time, above the "
                         f"{sla:g} ms p95 bound", probe,
                         self.can_replan(comp, lambda a: (a.pattern.latency_floor_ms or 0) <= sla))
            elif floor > THIN_HEADROOM * sla:
                self.add("latency_headroom", comp, "medium", f"thin latency headroom on {p.name}",
                         f"the {floor:g} ms platform floor leaves {sla - floor:g} ms of the {sla:g} ms SLA "
                         "for model inference and feature lookups", probe,
                         self.can_replan(comp, lambda a: (a.pattern.latency_floor_ms or 0) <= THIN_HEADROOM * sla))
        if not online and len(path) == 2:
            floors = [p.latency_floor_ms for cap in path
                      if (comp := self.plan.component(cap)) and (p := self.pattern(comp)) and p.latency_floor_ms]
            if len(floors) == 2 and sum(floors) > sla and all(f <= sla for f in floors):
                comp = self.plan.component("stream_processing")
                self.add("latency_chain", comp, "medium", "stream path floors add up past the SLA",
                         f"ingest ({floors[0]:g} ms) plus processing ({floors[1]:g} ms) floors exceed {sla:g} ms",
                         f"replay one hour of production events at peak rate and measure event-to-alert p95 "
                         f"against {sla:g} ms")

    def cold_starts(self) -> None:
        sla = self.env["sla_ms"]
        for comp in self.plan.components:
            p = self.pattern(comp)
            if p is None or not p.cold_start_ms:
                continue
            on_path = comp.capability == "serving_online" or (
                comp.capability == "stream_processing" and "online" not in self.workloads)
            if on_path and sla < p.cold_start_ms:
                self.add("cold_start", comp, "high" if self.c.sla_latency_ms and sla < 100 else "medium",
                         f"cold starts on {p.name}",
                         f"a cold start costs ~{p.cold_start_ms} ms, above the {sla:g} ms latency bound; "
                         "scale-out and scale-from-zero requests will miss it",
                         f"send a burst of traffic after 30 min idle and after a 3x step in load; record the "
                         f"share of requests above {sla:g} ms",
                         self.can_replan(comp, lambda a: a.pattern.cold_start_ms == 0))

    def throughput(self) -> None:
        if self.c.throughput_rps is None:
            return
        for comp in self.plan.components:
            p = self.pattern(comp)
            if p is None or p.throughput_ceiling_rps is None:
                continue
            if comp.capability == "serving_online" and "online" not in self.workloads:
                continue
            rps = self.rate(comp.capability)
            ceiling = p.throughput_ceiling_rps
            probe = (f"ramp {comp.pattern_id} to {1.5 * rps:g} rps over 15 min and hold for 30 min; record "
                     "throttling, errors and scaling lag")
            if rps > ceiling:
                self.add("throughput_ceiling", comp, "high", f"{p.name} is below the peak rate",
                         f"{rps:g} rps peak exceeds the pattern's ~{ceiling:g} rps ceiling", probe,
                         self.can_replan(comp, lambda a, rps=rps: (a.pattern.throughput_ceiling_rps or 0) >= rps))
            elif rps > NEAR_CEILING * ceiling:
                self.add("throughput_near_ceiling", comp, "medium", f"{p.name} runs close to its ceiling",
                         f"{rps:g} rps peak is {100 * rps / ceiling:.0f}% of the ~{ceiling:g} rps ceiling", probe,
                         self.can_replan(comp, lambda a, rps=rps: (a.pattern.throughput_ceiling_rps or 0)
                                         >= rps / NEAR_CEILING))

    def availability(self) -> None:
        target = self.env["availability"]
        stated = self.c.availability_target is not None
        serving = self.plan.component("serving_online")
        if serving is not None and target >= MULTI_AZ_AVAILABILITY:
            n = _instances(serving)
            if n is not None and n < 2:
                self.add("spof_instance", serving, "high", "single serving instance",
                         f"one instance cannot deliver {target:g}% availability: every deployment or host "
                         "failure is an outage",
                         "terminate the serving instance during a load test and measure the error window")
        for comp in self.plan.components:
            p = self.pattern(comp)
            if p is not None and target >= MULTI_AZ_AVAILABILITY and not p.multi_az:
                self.add("spof_zone", comp, "medium", f"{p.name} runs in one availability zone",
                         f"a zone outage takes {comp.capability} down, against a {target:g}% target",
                         "simulate a zone failure (drain one AZ) and measure recovery time",
                         self.can_replan(comp, lambda a: a.pattern.multi_az))
        if stated and target >= MULTI_REGION_AVAILABILITY and serving is not None and len(serving.regions) < 2:
            self.add("spof_region", serving, "high", f"single region for {target:g}% availability",
                     f"{target:g}% allows ~{(100 - target) * 438:.0f} min of downtime a month; one region "
                     f"({', '.join(serving.regions)}) is a single point of failure",
                     "run a regional failover game day: fail the region's endpoint and time DNS/traffic shift")

    def coupling(self) -> None:
        fs, serving = self.plan.component("feature_store"), self.plan.component("serving_online")
        sla = self.c.sla_latency_ms
        if fs is None or serving is None or sla is None:
            return
        pf, ps = self.pattern(fs), self.pattern(serving)
        if pf is None or ps is None:
            return
        path = (pf.latency_floor_ms or 0) + (ps.latency_floor_ms or 0)
        if path > 0.5 * sla:
            self.add("coupling_feature_lookup", fs, "medium", "synchronous feature lookups on the latency path",
                     f"each request waits on {pf.name} (~{pf.latency_floor_ms:g} ms floor) and {ps.name} "
                     f"(~{ps.latency_floor_ms:g} ms): {path:g} ms of a {sla:g} ms budget before inference",
                     "measure p99 of online feature reads at peak with a cold cache; consider caching or "
                     "pushing features with the request",
                     self.can_replan(fs, lambda a: (a.pattern.latency_floor_ms or 0) + (ps.latency_floor_ms or 0)
                                     <= 0.5 * sla))

    def quotas(self) -> None:
        rps = self.rate("serving_online")
        region = self.plan.regions[0] if self.plan.regions else "the region"
        if self.c.gpu:
            gpu_comps = [c for c in self.plan.components
                         if (p := self.pattern(c)) is not None and p.gpu and c.capability in ("serving_online", "training")]
            for comp in gpu_comps:
                n = _instances(comp) or 1
                if comp.capability == "training" or n >= GPU_QUOTA_INSTANCES:
                    self.add("quota_gpu", comp, "medium", f"GPU quota for {comp.capability}",
                             f"{n} GPU instance(s) in {region}: default GPU quotas are often 0-8 vCPUs and "
                             "capacity can be scarce", f"check the GPU instance quota in {region} now and file an "
                             f"increase for {max(n, 1) * 2} instances with lead time; try launching one")
        serving = self.plan.component("serving_online")
        p = self.pattern(serving) if serving else None
        if serving is not None and p is not None and p.deployment == "serverless" and "online" in self.workloads:
            concurrency = rps * max(p.latency_floor_ms or 50, 50) / 1000
            if rps > SERVERLESS_CONCURRENCY or concurrency > SERVERLESS_CONCURRENCY / 2:
                self.add("quota_concurrency", serving, "medium", "serverless concurrency quota",
                         f"{rps:g} rps at ~{max(p.latency_floor_ms or 50, 50):g} ms needs ~{concurrency:.0f} "
                         f"concurrent executions; default account quotas are around {SERVERLESS_CONCURRENCY}",
                         f"check the concurrency quota in {region} and load-test at {1.5 * rps:g} rps watching "
                         "throttles", self.can_replan(serving, lambda a: a.pattern.deployment != "serverless"))
        if rps >= HIGH_RPS and serving is not None:
            self.add("quota_high_rps", serving, "low", "high request rate against regional limits",
                     f"{rps:g} rps may hit load-balancer, API and connection limits in {region}",
                     f"review the service quotas for {serving.service} in {region} and pre-warm the load balancer")

    def inference_without_gpu(self) -> None:
        """GPUs were asked for, but a planned inference component runs on CPUs: the model may not fit
        the latency or the batch window there. Said once per component, with the GPU patterns of the
        catalog it could move to."""
        if not self.c.gpu or self.catalog is None:
            return
        # Without an API, the stream processor scores each event: it runs the model too.
        stream = () if self.plan.component("serving_online") else ("stream_processing",)
        for cap in ("serving_online", "serving_batch", *stream):
            comp = self.plan.component(cap)
            p = self.pattern(comp) if comp else None
            if comp is None or p is None or p.gpu:
                continue
            # A pattern reusing what the team does not run (its Kubernetes cluster) is no way out.
            existing = set(self.c.existing_stack)
            with_gpu = [x for x in self.catalog.patterns if x.capability == cap and x.gpu
                        and set(x.requires_existing) <= existing]
            built = [x.id for x in with_gpu if x.buildable]
            if built:
                where = f"{', '.join(built)} would run it on GPUs"
            elif with_gpu:
                where = f"the catalog's GPU patterns ({', '.join(x.id for x in with_gpu)}) have no generated module yet"
            else:
                where = f"{self.plan.cloud} has no GPU pattern for it in the catalog"
            if cap == "serving_batch":
                target = "the batch window"
            elif cap == "stream_processing" and self.c.sla_latency_ms:
                target = f"the {self.c.sla_latency_ms:g} ms per-event target"
            elif self.c.sla_latency_ms:
                target = f"the {self.c.sla_latency_ms:g} ms latency target"
            else:
                target = "the expected load"
            self.add("gpu_inference", comp, "medium", f"GPUs asked for, but {p.name} runs inference on CPUs",
                     f"the requirements ask for GPUs and {p.name} has none; {where}",
                     f"measure the model on CPUs at the planned sizing with production-sized inputs against {target}; "
                     f"if it needs a GPU, move {cap} to a GPU pattern",
                     self.can_replan(comp, lambda a: a.pattern.gpu))

    def team_code(self) -> None:
        """A built component that cannot do its job until the team writes something the repository
        does not generate: the reviewer should know before approving what will not run on day one."""
        for capability, work in team_work(self.plan).items():
            comp = self.plan.component(capability)
            p = self.pattern(comp) if comp else None
            if comp is None or p is None:
                continue
            self.add("team_code", comp, "medium", f"{comp.capability} needs the team's own code ({p.name})",
                     f"the infrastructure is built, but the team supplies {'; and '.join(work)}; until then "
                     f"{comp.capability} does nothing",
                     "write it, deploy it to the dev environment and run one day of traffic through it "
                     "before approving staging")

    def observability(self) -> None:
        mon = self.plan.component("monitoring")
        if mon is None:
            self.add("monitoring_missing", None, "high", "no monitoring",
                     "the plan has no monitoring component: no latency, error or drift signal",
                     "list the SLO metrics and alerts the service needs before approval", replan=False)
            return
        p = self.pattern(mon)
        if p is not None and "drift_detection" not in p.features:
            self.add("monitoring_drift", mon, "medium", "no model drift detection",
                     f"{p.name} collects metrics but does not detect feature or prediction drift",
                     "schedule a daily drift job comparing live features to the training baseline and alert on "
                     "a population-stability index above 0.2")

    def compliance_scope(self) -> None:
        regimes = required_regimes(self.c)
        if not regimes:
            return
        for comp in self.plan.components:
            p = self.pattern(comp)
            if p is not None and p.requires_existing:
                self.add("compliance_existing_scope", comp, "low",
                         f"existing {', '.join(p.requires_existing)} inside the {', '.join(regimes)} scope",
                         "eligibility of a reused system depends on its own controls, not the catalog",
                         f"confirm {', '.join(p.requires_existing)} has encryption at rest, private networking, "
                         f"access logging and is listed in the {', '.join(regimes)} assessment scope")


def critique(plan: Plan, constraints: ConstraintSchema) -> list[Risk]:
    """Technical risks of a plan, most severe first, then by id (deterministic)."""
    critic = _Critic(plan, constraints)
    for check in (critic.latency, critic.cold_starts, critic.throughput, critic.availability, critic.coupling,
                  critic.quotas, critic.inference_without_gpu, critic.team_code, critic.observability,
                  critic.compliance_scope):
        check()
    unique: dict[str, Risk] = {}
    for r in critic.risks:
        unique.setdefault(r.id, r)
    return sorted(unique.values(), key=lambda r: (SEVERITY_RANK[r.severity], r.id))
