"""The planner: capabilities per workload, hard and soft constraints, feedback, determinism."""

from __future__ import annotations

import pytest
from amp_contracts import CAPABILITIES, ConstraintSchema, Plan, Risk
from amp_domain.catalog import CLOUDS, catalog_version, load_catalog, region_index
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.critics.cost import estimate
from services.critics.tech import critique
from services.planner.planning import compose_plan
from services.policy.engine import evaluate


def _caps(plan: Plan) -> set[str]:
    return {c.capability for c in plan.components}


def _plan(**kw: object) -> Plan:
    return compose_plan(ConstraintSchema.model_validate(kw))


def test_defaults_are_stated_as_assumptions() -> None:
    plan = _plan()
    assert plan.cloud == "aws" and plan.regions == ["us-east-1"]
    text = " ".join(plan.assumptions)
    assert "cloud not stated" in text and "regions not stated" in text and "workload types not stated" in text
    assert "serving_batch" in _caps(plan) and "serving_online" not in _caps(plan)  # no latency or rate given
    assert "serving_online" in _caps(_plan(sla_latency_ms=200))


def test_the_plan_follows_the_intakes_assumptions() -> None:
    """What the intake says it assumes for an unstated workload or deployment is what the planner plans."""
    from amp_domain.requirements.coverage import check_coverage
    from amp_domain.requirements.questions import assumptions

    for kw in ({"cloud": "aws", "sla_latency_ms": 2000}, {"cloud": "gcp", "throughput_rps": 3000},
               {"cloud": "azure", "workload_types": ["online"]}, {"cloud": "aws", "budget_monthly_usd": 500},
               {"cloud": "gcp", "workload_types": ["batch"]}, {"cloud": "aws", "workload_types": ["streaming"]}):
        c = ConstraintSchema.model_validate(kw)
        assumed = {a.field: a.value for a in assumptions(c, check_coverage(c))}
        plan = compose_plan(c)
        caps = _caps(plan)
        workloads = c.workload_types or assumed["workload_types"]
        assert ("serving_online" in caps) == ("online" in workloads), kw
        assert ("serving_batch" in caps) == (workloads == ["batch"]), kw
        serving = plan.component("serving_online")
        if serving is not None and assumed["deployment_pref"] == "containers":
            assert serving.deployment == "containers" or "no deployment stated" not in serving.justification, kw
        if assumed["deployment_pref"] == "serverless":
            assert all(comp.deployment != "containers" for comp in plan.components
                       if comp.capability in ("serving_batch", "ingest_batch", "stream_processing")
                       and any(cand.eligible and "serverless" in " ".join(cand.tradeoffs)
                               for cand in comp.candidates)), kw
    assert plan.catalog_version == catalog_version() and plan.round == 1


def test_cloud_is_inferred_from_region_codes_and_gdpr_defaults_to_the_eu() -> None:
    assert _plan(regions=["westeurope"]).cloud == "azure"
    assert _plan(regions=["europe-west4"]).cloud == "gcp"
    assert _plan(cloud="gcp", compliance=["gdpr"]).regions == ["europe-west4"]


def test_capabilities_follow_the_workload() -> None:
    batch = _caps(_plan(cloud="aws", workload_types=["batch"]))
    assert {"orchestration", "serving_batch", "ingest_batch"} <= batch and "serving_online" not in batch
    stream = _caps(_plan(cloud="gcp", workload_types=["streaming"]))
    assert {"ingest_stream", "stream_processing"} <= stream and "feature_store" not in stream
    both = _caps(_plan(cloud="gcp", workload_types=["streaming", "online"]))
    assert {"ingest_stream", "stream_processing", "feature_store", "serving_online"} <= both
    # A feature store asked for by name is planned whatever the workload.
    assert "feature_store" not in _caps(_plan(cloud="gcp", workload_types=["online"]))
    for cloud in ("aws", "gcp", "azure"):
        asked = _caps(_plan(cloud=cloud, workload_types=["online"], storage_prefs=["feature-store"]))
        assert {"feature_store", "serving_online"} <= asked and "ingest_stream" not in asked, cloud
    for plan in (_plan(workload_types=["batch"]), _plan()):
        assert {"storage", "training", "registry", "monitoring", "ci_cd"} <= _caps(plan)
    internal = _plan(data_classification="internal")
    assert not {"security_kms", "audit_logging"} & _caps(internal)
    # A private network only when a chosen pattern cannot run without one, and the plan says why.
    needing = [c.pattern_id for c in internal.components
               if "networking_private" in (load_catalog(internal.cloud).pattern(c.pattern_id).needs)]
    assert ("networking_private" in _caps(internal)) == bool(needing)
    assert all(any(pid in a and "networking_private" in a for a in internal.assumptions) for pid in needing)
    for kw in ({"data_classification": "pii"}, {"data_classification": "confidential"}, {"compliance": ["hipaa"]}):
        assert {"security_kms", "networking_private", "audit_logging"} <= _caps(_plan(**kw)), kw


def _kind_ok(pref: str, deployment: str) -> bool:
    return not ((pref == "serverless" and deployment == "containers")
                or (pref == "containers" and deployment == "serverless"))


def test_deployment_preference_is_a_hard_filter_among_buildable_patterns() -> None:
    """The other kind is planned only when no buildable pattern of the asked-for kind exists for that
    capability; the plan then says so in an open question."""
    for cloud in CLOUDS:
        cat = load_catalog(cloud)
        for pref in ("serverless", "containers"):
            for kw in ({"workload_types": ["online", "batch", "streaming"]}, {"gpu": True}):
                plan = _plan(cloud=cloud, deployment_pref=pref, **kw)
                for comp in plan.components:
                    if _kind_ok(pref, comp.deployment):
                        continue
                    fitting = [p.id for p in cat.for_capability(comp.capability)
                               if p.buildable and _kind_ok(pref, p.deployment) and not p.requires_existing]
                    assert not fitting, (cloud, pref, comp.pattern_id, fitting)
                    assert any(q.startswith(f"{comp.capability}: no buildable") and comp.pattern_id in q
                               for q in plan.open_questions), (cloud, pref, comp.pattern_id)


def test_only_patterns_a_module_builds_are_planned() -> None:
    """A pattern without a generated module stays a candidate, rejected with the reason, never chosen."""
    seen_unbuilt = 0
    for cloud in CLOUDS:
        cat = load_catalog(cloud)
        for kw in ({"workload_types": ["online", "batch", "streaming"], "deployment_pref": "containers"},
                   {"existing_stack": ["kafka", "mlflow", "airflow", "kubernetes", "databricks"], "gpu": True}):
            plan = _plan(cloud=cloud, **kw)
            for comp in plan.components:
                assert cat.pattern(comp.pattern_id).buildable, comp.pattern_id
                for cand in comp.candidates:
                    if not cat.pattern(cand.id).buildable:
                        seen_unbuilt += 1
                        assert not cand.eligible and "no generated module builds it yet" in (cand.rejected_because or "")
    assert seen_unbuilt


def _without_regimes(cloud: str, capability: str, regimes: set[str]):
    """The cloud's catalog with the best pattern of a capability made ineligible for `regimes`."""
    cat = load_catalog(cloud)
    target = cat.for_capability(capability)[0]
    patterns = [p.model_copy(update={"compliance": [r for r in p.compliance if r not in regimes]})
                if p.id == target.id else p for p in cat.patterns]
    changed = cat.model_copy(update={"patterns": patterns})
    changed.__dict__.pop("_idx", None)  # the copy must not keep the original's pattern index
    return changed, target.id


def test_compliance_keeps_only_eligible_patterns(monkeypatch) -> None:
    for cloud in CLOUDS:
        changed, ineligible = _without_regimes(cloud, "ci_cd", {"hipaa", "pci_dss"})
        monkeypatch.setattr("amp_domain.assessment.load_catalog", lambda c, _cat=changed: _cat)
        plan = _plan(cloud=cloud, compliance=["hipaa", "pci_dss"], data_classification="phi")
        assert all(c.pattern_id != ineligible for c in plan.components)
        cat = changed
        for comp in plan.components:
            p = cat.pattern(comp.pattern_id)
            assert p and {"hipaa", "pci_dss"} <= set(p.compliance), comp.pattern_id
        assert any(cand.rejected_because and "not eligible" in cand.rejected_because
                   for comp in plan.components for cand in comp.candidates), cloud


def test_existing_stack_is_reused() -> None:
    plan = _plan(cloud="aws", workload_types=["online"], existing_stack=["kafka", "mlflow", "airflow"],
                 training_cadence="daily")
    assert plan.component("ingest_stream").pattern_id == "aws:ingest_stream:kafka-existing"
    assert plan.component("registry").pattern_id == "aws:registry:mlflow-existing"
    assert "existing_stack" in plan.component("registry").answers
    without = _plan(cloud="aws", workload_types=["streaming"])
    assert "existing" not in without.component("ingest_stream").pattern_id
    orch = plan.component("orchestration")
    assert orch.pattern_id == "aws:orchestration:airflow-existing" and "existing_stack" in orch.answers
    for cloud in ("gcp", "azure"):
        other = _plan(cloud=cloud, workload_types=["batch"], existing_stack=["airflow"], training_cadence="daily")
        assert other.component("orchestration").pattern_id == f"{cloud}:orchestration:airflow-existing"
    # Where no module builds a reuse (an existing Databricks workspace): it is shown, rejected, and
    # the plan says so.
    azure = _plan(cloud="azure", workload_types=["batch"], existing_stack=["databricks"])
    ingest = azure.component("ingest_batch")
    assert ingest.pattern_id != "azure:ingest_batch:databricks-existing"
    databricks = next(c for c in ingest.candidates if c.id == "azure:ingest_batch:databricks-existing")
    assert databricks.rejected_because == "no generated module builds it yet" and not databricks.eligible
    assert any("azure:ingest_batch:databricks-existing" in a and "no generated module" in a for a in azure.assumptions)


def test_latency_and_throughput_steer_serving() -> None:
    fast = _plan(cloud="aws", sla_latency_ms=20, throughput_rps=50000, deployment_pref="containers")
    serving = fast.component("serving_online")
    assert serving.pattern_id == "aws:serving_online:ecs-fargate"
    lam = next(c for c in serving.candidates if c.id == "aws:serving_online:lambda")
    assert lam.rejected_because and "containers" in lam.rejected_because
    assert serving.sizing["tasks"] >= 50000 / serving.sizing["per_task_rps"]
    assert {"sla_latency_ms", "throughput_rps", "deployment_pref"} <= set(serving.answers)


def test_a_latency_floor_no_buildable_pattern_meets_is_reported_by_policy() -> None:
    c = ConstraintSchema(cloud="aws", sla_latency_ms=6, throughput_rps=50000, deployment_pref="containers")
    plan = compose_plan(c)
    serving = plan.component("serving_online")
    p = load_catalog("aws").pattern(serving.pattern_id)
    assert p.buildable and p.latency_floor_ms > 6 and "sla_latency_ms" not in serving.answers
    kserve = next(x for x in serving.candidates if x.id == "aws:serving_online:eks-kserve")
    assert kserve.rejected_because == "no generated module builds it yet"
    sla = next(r for r in evaluate(c, plan, estimate(plan, c)).rules if r.id == "sla_feasibility")
    assert sla.status == "fail" and serving.pattern_id in sla.detail


def test_gpu_need_picks_gpu_capable_patterns() -> None:
    """GPU-capable where a buildable pattern is; otherwise the chosen card says it has no GPU support."""
    for cloud in CLOUDS:
        plan = _plan(cloud=cloud, gpu=True, deployment_pref="serverless", workload_types=["online"])
        cat = load_catalog(cloud)
        for cap in ("serving_online", "training"):
            comp = plan.component(cap)
            if cat.pattern(comp.pattern_id).gpu:
                continue
            assert not [p.id for p in cat.for_capability(cap) if p.buildable and p.gpu and p.deployment != "containers"
                        and not p.requires_existing], (cloud, cap)
            assert "no GPU support" in comp.candidates[0].cons, (cloud, cap)


def test_multi_region_availability_deploys_serving_in_every_region() -> None:
    plan = _plan(cloud="gcp", regions=["us-east1", "us-west1"], availability_target=99.99, workload_types=["online"])
    assert plan.component("serving_online").regions == ["us-east1", "us-west1"]
    assert plan.component("training").regions == ["us-east1"]
    lower = _plan(cloud="gcp", regions=["us-east1", "us-west1"], availability_target=99.9, workload_types=["online"])
    assert lower.component("serving_online").regions == ["us-east1"] and lower.open_questions


def test_candidates_carry_pros_cons_scores_and_reasons() -> None:
    plan = _plan(cloud="aws", sla_latency_ms=50, throughput_rps=500)
    for comp in plan.components:
        assert comp.justification and comp.candidates[0].id == comp.pattern_id
        assert comp.candidates[0].rejected_because is None
        for cand in comp.candidates[1:]:
            assert cand.rejected_because, cand.id
        assert all(cand.score is not None and cand.pros for cand in comp.candidates)


def test_replan_feedback_excludes_the_pattern_and_bumps_the_round() -> None:
    c = ConstraintSchema(cloud="aws", sla_latency_ms=500)
    first = compose_plan(c)
    current = first.component("serving_online").pattern_id
    risk = Risk(id="cold_start:serving_online", severity="high", title="cold starts", detail="d",
                component=current, replan=True)
    second = compose_plan(c, feedback=[risk], round=first.round)
    assert second.round == 2 and second.component("serving_online").pattern_id != current
    cand = next(x for x in second.component("serving_online").candidates if x.id == current)
    assert "critic feedback" in (cand.rejected_because or "")
    ignored = compose_plan(c, feedback=[risk.model_copy(update={"replan": False})])
    assert ignored.round == 1 and ignored.component("serving_online").pattern_id == current


def test_plans_are_byte_identical() -> None:
    kw = {"cloud": "azure", "regions": ["westeurope", "northeurope"], "workload_types": ["online", "streaming", "batch"],
              "availability_target": 99.99, "existing_stack": ["kafka"], "compliance": ["gdpr"], "data_classification": "pii"}
    c = ConstraintSchema.model_validate(kw)
    dumps = {compose_plan(c).model_dump_json() for _ in range(3)}
    dumps.add(compose_plan(ConstraintSchema.model_validate(dict(reversed(list(kw.items()))))).model_dump_json())
    assert len(dumps) == 1


REGIONS = sorted(region_index())


@st.composite
def constraint_schemas(draw: st.DrawFn) -> ConstraintSchema:
    opt = lambda s: st.none() | s
    return ConstraintSchema(
        cloud=draw(opt(st.sampled_from(CLOUDS))),
        regions=draw(st.lists(st.sampled_from(REGIONS) | st.sampled_from(["mars-north-1", "eu-west-9"]),
                              max_size=3, unique=True)),
        budget_monthly_usd=draw(opt(st.floats(0, 1e6))),
        data_classification=draw(opt(st.sampled_from(["public", "internal", "confidential", "pii", "phi", "pci"]))),
        sla_latency_ms=draw(opt(st.floats(0.5, 1e5))),
        availability_target=draw(opt(st.floats(50, 100))),
        throughput_rps=draw(opt(st.floats(0, 1e7))),
        workload_types=draw(st.lists(st.sampled_from(["batch", "streaming", "online"]), max_size=3, unique=True)),
        deployment_pref=draw(opt(st.sampled_from(["serverless", "containers"]))),
        compliance=draw(st.lists(st.sampled_from(["gdpr", "hipaa", "pci_dss", "soc2", "iso27001", "ccpa", "fedramp"]),
                                 max_size=3, unique=True)),
        team_languages=draw(st.lists(st.sampled_from(["python", "go", "scala", "java", "sql"]), max_size=2, unique=True)),
        existing_stack=draw(st.lists(st.sampled_from(["kafka", "mlflow", "airflow", "kubernetes", "databricks",
                                                      "snowflake", "feast", "datadog", "prometheus"]),
                                     max_size=4, unique=True)),
        storage_prefs=draw(st.lists(st.sampled_from(["lake", "warehouse"]), max_size=1)),
        gpu=draw(opt(st.booleans())),
        training_cadence=draw(opt(st.sampled_from(["hourly", "daily", "weekly", "monthly"]))),
        data_volume_gb=draw(opt(st.floats(0, 1e7))),
    )


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(constraint_schemas())
def test_any_valid_constraints_yield_a_valid_priced_plan(c: ConstraintSchema) -> None:
    plan = compose_plan(c)
    Plan.model_validate_json(plan.model_dump_json())
    assert plan.components and all(comp.capability in CAPABILITIES for comp in plan.components)
    assert all(comp.pattern_id.startswith(plan.cloud + ":") for comp in plan.components)
    if c.regions:
        assert all(r in c.regions for comp in plan.components for r in comp.regions)
    if c.cloud:
        assert plan.cloud == c.cloud
    cost = estimate(plan, c)
    parts = sum(item.usd for item in cost.breakdown)
    assert cost.monthly_usd > 0 and abs(parts - cost.monthly_usd) <= 0.0001 * cost.monthly_usd + 0.005
    assert cost.low_usd <= cost.monthly_usd <= cost.high_usd
    risks = critique(plan, c)
    assert risks == critique(plan, c)
    policy = evaluate(c, plan, cost)
    assert {r.id for r in policy.rules} >= {"budget_band", "region_policy", "gdpr_residency"}


def test_retraining_alone_adds_no_batch_scoring_but_batch_predictions_do():
    """Scheduled retraining is batch work (the intake's definition), yet only batch predictions need batch serving."""
    from amp_contracts import ConstraintSchema

    from services.planner.planning import compose_plan

    base = {"cloud": "aws", "regions": ["eu-west-1"], "workload_types": ["online", "batch"], "training_cadence": "weekly"}
    retrain_only = compose_plan(ConstraintSchema(**base, batch_scoring=False))
    caps = {c.capability for c in retrain_only.components}
    assert "serving_batch" not in caps and {"orchestration", "training", "serving_online"} <= caps
    assert any("retraining only" in a for a in retrain_only.assumptions + retrain_only.open_questions)
    with_scoring = compose_plan(ConstraintSchema(**base, batch_scoring=True))
    assert "serving_batch" in {c.capability for c in with_scoring.components}
    batch_only = compose_plan(ConstraintSchema(cloud="gcp", workload_types=["batch"], batch_scoring=False))
    assert "serving_batch" in {c.capability for c in batch_only.components}  # a batch-only system scores in batch


def test_a_streaming_plan_retraining_in_batch_scores_on_the_stream():
    """The stream consumer makes the predictions: retraining alone adds no batch scorer there either."""
    from amp_contracts import ConstraintSchema

    from services.planner.planning import compose_plan

    base = {"cloud": "azure", "workload_types": ["streaming", "batch"], "training_cadence": "weekly"}
    retrain_only = compose_plan(ConstraintSchema(**base, batch_scoring=False))
    caps = {c.capability for c in retrain_only.components}
    assert "serving_batch" not in caps and {"ingest_stream", "stream_processing", "orchestration"} <= caps
    assert any("stream consumer makes the predictions" in a for a in retrain_only.assumptions)
    assert "serving_batch" in {c.capability for c in compose_plan(ConstraintSchema(**base, batch_scoring=True)).components}
