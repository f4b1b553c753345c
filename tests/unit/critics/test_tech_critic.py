"""The technical critic: each risk kind, its probe, when it asks for a replan, and ordering."""

from __future__ import annotations

from amp_contracts import ConstraintSchema, Plan
from amp_domain.catalog import load_catalog

from services.critics.tech import SEVERITY_RANK, critique
from services.planner.planning import compose_plan


def _run(**kw: object) -> tuple[Plan, ConstraintSchema, dict[str, object]]:
    c = ConstraintSchema.model_validate(kw)
    plan = compose_plan(c)
    return plan, c, {r.id: r for r in critique(plan, c)}


def _force(plan: Plan, capability: str, pattern_id: str, **sizing: object) -> Plan:
    comps = [comp.model_copy(update={"pattern_id": pattern_id, "sizing": {**comp.sizing, **sizing}})
             if comp.capability == capability else comp for comp in plan.components]
    return plan.model_copy(update={"components": comps})


def test_latency_floor_over_sla_asks_for_a_replan_when_another_pattern_fits() -> None:
    plan, c, _ = _run(cloud="aws", sla_latency_ms=20, throughput_rps=100)
    plan = _force(plan, "serving_online", "aws:serving_online:sagemaker-serverless")
    risks = {r.id: r for r in critique(plan, c)}
    risk = risks["latency_floor:serving_online"]
    assert risk.severity == "high" and risk.replan and risk.component == "aws:serving_online:sagemaker-serverless"
    assert "load-test" in risk.probe and "20 ms" in risk.probe
    assert risks["cold_start:serving_online"].replan


def test_latency_floor_without_an_alternative_is_not_replanned() -> None:
    _, _, risks = _run(cloud="aws", deployment_pref="serverless", sla_latency_ms=5)
    risk = risks["latency_floor:serving_online"]
    assert risk.severity == "high" and not risk.replan


def test_replan_loop_converges_to_a_plan_without_replan_risks() -> None:
    # The planner already chooses the best buildable pattern, so the loop starts from an edited plan
    # (Lambda's 25 ms floor against a 20 ms SLA) that a buildable alternative fixes.
    c = ConstraintSchema(cloud="aws", sla_latency_ms=20, throughput_rps=100)
    plan = _force(compose_plan(c), "serving_online", "aws:serving_online:lambda")
    assert any(r.replan for r in critique(plan, c))
    for _ in range(4):
        risks = critique(plan, c)
        if not any(r.replan for r in risks):
            break
        plan = compose_plan(c, feedback=risks, round=plan.round)
    assert not any(r.replan for r in critique(plan, c))
    assert plan.round >= 2


def test_throughput_over_ceiling() -> None:
    plan, c, _ = _run(cloud="gcp", throughput_rps=20000, deployment_pref="serverless")
    plan = _force(plan, "serving_online", "gcp:serving_online:cloud-functions")
    risks = {r.id: r for r in critique(plan, c)}
    assert risks["throughput_ceiling:serving_online"].severity == "high"
    assert risks["throughput_ceiling:serving_online"].replan
    assert "quota_concurrency:serving_online" in risks


def test_single_points_of_failure() -> None:
    plan, c, _ = _run(cloud="aws", availability_target=99.99, regions=["us-east-1"], deployment_pref="containers",
                      workload_types=["online"])
    plan = _force(plan, "serving_online", plan.component("serving_online").pattern_id, instances=1)
    risks = {r.id: r for r in critique(plan, c)}
    assert risks["spof_instance:serving_online"].severity == "high"
    assert risks["spof_region:serving_online"].severity == "high"
    assert not risks["spof_region:serving_online"].replan
    _, _, two = _run(cloud="aws", availability_target=99.99, regions=["us-east-1", "us-west-2"])
    assert "spof_region:serving_online" not in two


def _with_module(cloud: str, pattern_id: str, module: str):
    """The cloud's catalog as if a generated module built `pattern_id`."""
    cat = load_catalog(cloud)
    patterns = [p.model_copy(update={"module": module}) if p.id == pattern_id else p for p in cat.patterns]
    changed = cat.model_copy(update={"patterns": patterns})
    changed.__dict__.pop("_idx", None)  # the copy must not keep the original's pattern index
    return changed


def test_feature_lookup_coupling_on_a_tight_budget(monkeypatch) -> None:
    plan, c, _ = _run(cloud="aws", workload_types=["online", "streaming"], sla_latency_ms=30)
    plan = _force(plan, "feature_store", "aws:feature_store:sagemaker-feature-store")
    plan = _force(plan, "serving_online", "aws:serving_online:sagemaker-endpoint")
    risks = {r.id: r for r in critique(plan, c)}
    assert "coupling_feature_lookup:feature_store" in risks
    # The faster online stores (ElastiCache, DynamoDB) have no generated module: nothing to replan to.
    assert not risks["coupling_feature_lookup:feature_store"].replan
    changed = _with_module("aws", "aws:feature_store:feast-elasticache", "feature_store")
    monkeypatch.setattr("amp_domain.assessment.load_catalog", lambda cloud, _cat=changed: _cat)
    risks = {r.id: r for r in critique(plan, c)}
    assert risks["coupling_feature_lookup:feature_store"].replan


def test_gpu_quota_and_high_rps() -> None:
    plan, c, risks = _run(cloud="aws", gpu=True, throughput_rps=20000, sla_latency_ms=30, deployment_pref="containers")
    assert "quota_gpu:training" in risks
    assert plan.component("serving_online").pattern_id == "aws:serving_online:sagemaker-endpoint"
    assert "quota_gpu:serving_online" in risks
    assert "quota_high_rps:serving_online" in risks
    assert all(r.probe for r in risks.values())


def test_gpus_asked_for_but_inference_on_cpus_is_a_risk_with_its_probe() -> None:
    # Where no buildable serving pattern has GPUs (Cloud Run, GKE without a module), it is a risk to measure.
    plan, c, risks = _run(cloud="gcp", gpu=True, sla_latency_ms=300, throughput_rps=50)
    serving = plan.component("serving_online")
    assert serving is not None and not load_catalog("gcp").pattern(serving.pattern_id).gpu
    risk = risks["gpu_inference:serving_online"]
    assert risk.severity == "medium" and risk.component == serving.pattern_id
    assert not risk.replan  # no buildable serving pattern has GPUs: nothing to switch to
    assert "300 ms" in risk.probe and "gcp:serving_online:vertex-endpoint" in risk.detail
    _, _, batch = _run(cloud="gcp", gpu=True, workload_types=["batch"])
    assert "the batch window" in batch["gpu_inference:serving_batch"].probe
    # On AWS the SageMaker endpoint serves on GPUs: the plan takes it, and no such risk remains.
    aws_plan, aws_c, aws_risks = _run(cloud="aws", gpu=True, sla_latency_ms=300, throughput_rps=50)
    assert aws_plan.component("serving_online").pattern_id == "aws:serving_online:sagemaker-endpoint"
    assert "gpu_inference:serving_online" not in aws_risks
    # A plan edited onto CPUs there is told where to move, and asked to.
    on_cpus = {r.id: r for r in critique(_force(aws_plan, "serving_online", "aws:serving_online:ecs-fargate"), aws_c)}
    moved = on_cpus["gpu_inference:serving_online"]
    assert moved.replan and "aws:serving_online:sagemaker-endpoint would run it on GPUs" in moved.detail
    # GPUs not asked for: no such risk
    assert "gpu_inference:serving_online" not in _run(cloud="gcp", sla_latency_ms=300, throughput_rps=50)[2]


def test_missing_monitoring_and_drift() -> None:
    plan, c, _ = _run(cloud="gcp")
    no_mon = plan.model_copy(update={"components": [x for x in plan.components if x.capability != "monitoring"]})
    assert critique(no_mon, c)[0].id == "monitoring_missing"
    prom = _force(plan, "monitoring", "gcp:monitoring:managed-prometheus")
    assert "monitoring_drift:monitoring" in {r.id for r in critique(prom, c)}


def test_reused_systems_in_compliance_scope_are_flagged() -> None:
    _, _, risks = _run(cloud="aws", existing_stack=["kafka"], compliance=["pci_dss"])
    assert risks["compliance_existing_scope:ingest_stream"].severity == "low"


def test_risks_are_ordered_and_deterministic() -> None:
    plan, c, _ = _run(cloud="aws", gpu=True, throughput_rps=20000, sla_latency_ms=3, availability_target=99.99,
                      deployment_pref="serverless")
    risks = critique(plan, c)
    keys = [(SEVERITY_RANK[r.severity], r.id) for r in risks]
    assert keys == sorted(keys) and len({r.id for r in risks}) == len(risks)
    assert [r.model_dump_json() for r in risks] == [r.model_dump_json() for r in critique(plan, c)]


def test_a_comfortable_plan_has_no_high_risks() -> None:
    _, _, risks = _run(cloud="aws", sla_latency_ms=500, throughput_rps=100, availability_target=99.9)
    assert not [r for r in risks.values() if r.severity in ("high", "critical")]


def test_a_component_that_needs_the_teams_code_is_a_risk_the_reviewer_sees() -> None:
    """Every built pattern whose catalog entry says the team writes part of it is reported, with
    what to write; it is not replanned away (the reviewer decides), and others are not reported."""
    checked = 0
    for cloud in ("aws", "gcp", "azure"):
        catalog = load_catalog(cloud)
        for pattern in catalog.patterns:
            if not pattern.buildable:
                continue
            plan, c, _ = _run(cloud=cloud, workload_types=["streaming", "batch", "online"])
            if plan.component(pattern.capability) is None:
                continue
            plan = _force(plan, pattern.capability, pattern.id)
            risks = {r.id: r for r in critique(plan, c)}
            risk = risks.get(f"team_code:{pattern.capability}")
            if pattern.team_code:
                assert risk is not None, pattern.id
                assert risk.severity == "medium" and not risk.replan and risk.component == pattern.id
                assert pattern.team_code in risk.detail and "dev environment" in risk.probe
                checked += 1
            else:
                assert risk is None or risk.component != pattern.id, pattern.id
    assert checked >= 3


def test_a_consumer_wired_to_another_kind_of_stream_is_a_risk_the_reviewer_sees() -> None:
    """A push consumer beside an existing Kafka cluster receives nothing: the team connects it."""
    plan, c, _ = _run(cloud="gcp", workload_types=["streaming"], throughput_rps=500)
    plan = _force(_force(plan, "ingest_stream", "gcp:ingest_stream:kafka-existing"),
                  "stream_processing", "gcp:stream_processing:cloud-run-consumer")
    risk = {r.id: r for r in critique(plan, c)}["team_code:stream_processing"]
    assert "connection to the consumer" in risk.detail and "pubsub" in risk.detail and not risk.replan
    wired = _force(plan, "ingest_stream", "gcp:ingest_stream:pubsub")
    assert "team_code:stream_processing" not in {r.id for r in critique(wired, c)}


def test_a_stream_that_runs_the_model_without_an_api_is_held_to_the_gpus_asked_for() -> None:
    """Vision on a stream of camera frames: with no API, the stream processor scores each event."""
    plan, _, risks = _run(cloud="aws", gpu=True, workload_types=["streaming"], sla_latency_ms=150,
                          throughput_rps=200)
    processor = plan.component("stream_processing")
    assert processor is not None and not load_catalog("aws").pattern(processor.pattern_id).gpu
    risk = risks["gpu_inference:stream_processing"]
    assert "150 ms per-event target" in risk.probe
    _, _, with_api = _run(cloud="aws", gpu=True, workload_types=["streaming", "online"], sla_latency_ms=150,
                          throughput_rps=200)
    assert "gpu_inference:stream_processing" not in with_api  # the API runs the model there
