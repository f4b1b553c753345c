"""The policy engine: each built-in rule, not-applicable reporting, packs, waivers, determinism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from amp_contracts import ConstraintSchema, CostEstimate, Plan, PolicyResults, ValidationFailed, Waiver
from amp_domain.catalog import load_catalog
from amp_domain.policy.jsonlogic import apply_logic, render_detail
from amp_domain.policy.packs import builtin_ids, validate_rule_pack

from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.policy.engine import evaluate

NOW = datetime(2025, 6, 1, tzinfo=UTC)
BUILTIN = ["budget_band", "region_policy", "data_residency", "data_classification_controls", "hipaa_eligible_services",
           "pci_dss_scope", "fedramp_authorized_services", "soc2_covered_services", "iso27001_certified_services",
           "gdpr_residency", "sla_feasibility", "availability_topology", "cost_delta_review"]


def _setup(**kw: object) -> tuple[ConstraintSchema, Plan, CostEstimate]:
    c = ConstraintSchema.model_validate(kw)
    plan = compose_plan(c)
    return c, plan, estimate(plan, c)


def _rules(res: PolicyResults) -> dict:
    return {r.id: r for r in res.rules}


def _with_cost(cost: CostEstimate, usd: float) -> CostEstimate:
    return cost.model_copy(update={"monthly_usd": usd})


def test_every_builtin_rule_is_reported_with_a_control() -> None:
    c, plan, cost = _setup()
    res = evaluate(c, plan, cost, now=NOW)
    assert [r.id for r in res.rules] == BUILTIN and set(BUILTIN) == builtin_ids()
    assert all(r.control for r in res.rules)
    na = [r for r in res.rules if r.detail.startswith("not applicable:")]
    assert all(r.status == "pass" for r in na)
    assert _rules(res)["budget_band"].detail == "not applicable: no budget stated"


def test_budget_band() -> None:
    c, plan, cost = _setup(budget_monthly_usd=1000)
    r = lambda usd: _rules(evaluate(c, plan, _with_cost(cost, usd), now=NOW))["budget_band"]
    assert r(900).status == "pass" and "$900.00" in r(900).detail and "$1,000.00" in r(900).detail
    assert r(1000).status == "pass"
    assert r(1080).status == "warn"
    assert r(1101).status == "fail"
    assert evaluate(c, plan, _with_cost(cost, 1101), now=NOW).overall == "fail"


def test_region_policy() -> None:
    c, plan, cost = _setup(regions=["eu-west-1"])
    assert _rules(evaluate(c, plan, cost, now=NOW))["region_policy"].status == "pass"
    moved = plan.model_copy(update={"components": [plan.components[0].model_copy(update={"regions": ["us-east-1"]}),
                                                   *plan.components[1:]]})
    r = _rules(evaluate(c, moved, cost, now=NOW))["region_policy"]
    assert r.status == "fail" and "us-east-1" in r.detail


def test_data_classification_controls() -> None:
    c, plan, cost = _setup(data_classification="phi")
    assert _rules(evaluate(c, plan, cost, now=NOW))["data_classification_controls"].status == "pass"
    stripped = plan.model_copy(update={"components": [x for x in plan.components if x.capability != "audit_logging"]})
    r = _rules(evaluate(c, stripped, cost, now=NOW))["data_classification_controls"]
    assert r.status == "fail" and "audit_logging" in r.detail
    c2, plan2, cost2 = _setup(data_classification="internal")
    assert _rules(evaluate(c2, plan2, cost2, now=NOW))["data_classification_controls"].detail.startswith("not applicable")


def test_hipaa_and_pci_eligibility(monkeypatch) -> None:
    c, plan, cost = _setup(cloud="aws", compliance=["hipaa", "pci_dss"], data_classification="phi")
    res = _rules(evaluate(c, plan, cost, now=NOW))
    assert res["hipaa_eligible_services"].status == "pass" and res["pci_dss_scope"].status == "pass"
    # Make the CI/CD pattern ineligible in the catalog the engine reads: both rules must then fail.
    cat = load_catalog("aws")
    comp = plan.component("ci_cd")
    other = cat.pattern(comp.pattern_id)
    changed = cat.model_copy(update={"patterns": [
        p.model_copy(update={"compliance": ["soc2"]}) if p.id == other.id else p for p in cat.patterns]})
    changed.__dict__.pop("_idx", None)  # the copy must not keep the original's pattern index
    monkeypatch.setattr("services.policy.facts.load_catalog", lambda c: changed)
    swapped = plan.model_copy(update={"components": [
        x.model_copy(update={"pattern_id": other.id}) if x is comp else x for x in plan.components]})
    res = _rules(evaluate(c, swapped, cost, now=NOW))
    name = other.id.split(":")[-1]
    assert res["hipaa_eligible_services"].status == "fail" and name in res["hipaa_eligible_services"].detail
    assert res["pci_dss_scope"].status == "fail"
    assert res["hipaa_eligible_services"].control.startswith("HIPAA")


@pytest.mark.parametrize(("regime", "rule"), [("fedramp", "fedramp_authorized_services"),
                                              ("soc2", "soc2_covered_services"),
                                              ("iso27001", "iso27001_certified_services")])
def test_every_other_regime_fails_a_plan_with_an_ineligible_service(regime: str, rule: str, monkeypatch) -> None:
    """The planner rejects ineligible patterns, but plans the best one where no buildable pattern of a
    capability is eligible (it says so in the plan); policy must not pass such a plan."""
    c, plan, cost = _setup(cloud="gcp", compliance=[regime], workload_types=["online", "batch"])
    assert _rules(evaluate(*_setup(cloud="gcp"), now=NOW))[rule].detail.startswith("not applicable")
    cat = load_catalog("gcp")
    serving = cat.pattern(plan.component("serving_online").pattern_id)
    assert regime in serving.compliance
    # The same plan, with the serving pattern made ineligible in the catalog the engine reads.
    changed = cat.model_copy(update={"patterns": [
        p.model_copy(update={"compliance": [r for r in p.compliance if r != regime]}) if p.id == serving.id else p
        for p in cat.patterns]})
    changed.__dict__.pop("_idx", None)
    before = {x.pattern_id for x in plan.components if regime not in cat.pattern(x.pattern_id).compliance}
    res = _rules(evaluate(c, plan, cost, now=NOW))[rule]
    assert res.status == ("fail" if before else "pass"), res.detail
    monkeypatch.setattr("services.policy.facts.load_catalog", lambda cloud: changed)
    res = _rules(evaluate(c, plan, cost, now=NOW))[rule]
    assert res.status == "fail" and serving.id in res.detail and all(b in res.detail for b in before)


def test_a_fedramp_plan_on_azure_fails_while_no_authorized_serving_is_built() -> None:
    """Azure builds no FedRAMP-authorized serving or CI/CD pattern yet: the plan names them and fails."""
    c, plan, cost = _setup(cloud="azure", regions=["usgovvirginia"], compliance=["fedramp"],
                           workload_types=["online"], deployment_pref="containers")
    res = _rules(evaluate(c, plan, cost, now=NOW))["fedramp_authorized_services"]
    assert res.status == "fail"
    assert plan.component("serving_online").pattern_id in res.detail and "azure:ci_cd:github-actions" in res.detail


def test_gdpr_residency() -> None:
    status = lambda regions: _rules(evaluate(*_setup(cloud="aws", regions=regions, compliance=["gdpr"]),
                                             now=NOW))["gdpr_residency"]
    assert status(["eu-central-1"]).status == "pass"
    assert status(["eu-west-2"]).status == "warn"
    fail = status(["us-east-1"])
    assert fail.status == "fail" and "us-east-1" in fail.detail and "Art. 44" in fail.control


def test_sla_feasibility_and_availability_topology() -> None:
    c, plan, cost = _setup(cloud="aws", deployment_pref="serverless", sla_latency_ms=5, availability_target=99.99,
                           regions=["us-east-1"])
    res = _rules(evaluate(c, plan, cost, now=NOW))
    assert res["sla_feasibility"].status == "fail" and "5 ms" in res["sla_feasibility"].detail
    assert res["availability_topology"].status == "warn"
    c2, plan2, cost2 = _setup(cloud="aws", availability_target=99.99, regions=["us-east-1", "us-west-2"],
                              workload_types=["online"])
    assert _rules(evaluate(c2, plan2, cost2, now=NOW))["availability_topology"].status == "pass"


def test_an_online_feature_lookup_counts_on_the_latency_path() -> None:
    """Online plus streaming plans read features on every request; the SLA is held to both floors."""
    c, plan, cost = _setup(cloud="gcp", workload_types=["online", "streaming"], sla_latency_ms=200)
    cat = load_catalog("gcp")
    fs, serving = (cat.pattern(plan.component(k).pattern_id) for k in ("feature_store", "serving_online"))
    assert fs.latency_floor_ms and serving.latency_floor_ms
    both = fs.latency_floor_ms + serving.latency_floor_ms
    rule = _rules(evaluate(c, plan, cost, now=NOW))["sla_feasibility"]
    assert rule.status == "pass" and f"{both:g}" in rule.detail and fs.id in rule.detail
    # Between the serving floor and the sum: serving alone would meet it, the request path cannot.
    tight = c.model_copy(update={"sla_latency_ms": (serving.latency_floor_ms + both) / 2})
    rule = _rules(evaluate(tight, plan, cost, now=NOW))["sla_feasibility"]
    assert rule.status == "fail" and fs.id in rule.detail


def test_cost_delta_review_forces_human_review() -> None:
    c, plan, cost = _setup(cloud="aws", throughput_rps=1000)
    prev = _with_cost(cost, cost.monthly_usd / 2)
    res = evaluate(c, plan, cost, previous_cost=prev, now=NOW)
    assert _rules(res)["cost_delta_review"].status == "warn" and res.requires_review
    small = evaluate(c, plan, cost, previous_cost=_with_cost(cost, cost.monthly_usd - 1), now=NOW)
    assert _rules(small)["cost_delta_review"].status == "pass" and not small.requires_review
    assert not evaluate(c, plan, cost, now=NOW).requires_review


def test_waivers_accept_failed_rules_visibly_until_they_expire() -> None:
    c, plan, cost = _setup(cloud="aws", regions=["us-east-1"], compliance=["gdpr"])
    assert evaluate(c, plan, cost, now=NOW).overall == "fail"
    w = Waiver(rule_id="gdpr_residency", reason="SCCs signed with the US processor", by="dpo@example.com",
               expires_at=NOW + timedelta(days=30))
    res = evaluate(c, plan, cost, waivers=[w], now=NOW)
    r = _rules(res)["gdpr_residency"]
    assert r.status == "fail" and r.waived and "SCCs signed" in r.waiver_reason and "dpo@example.com" in r.waiver_reason
    assert res.overall == "pass"
    expired = evaluate(c, plan, cost, waivers=[w], now=NOW + timedelta(days=31))
    assert expired.overall == "fail" and not _rules(expired)["gdpr_residency"].waived
    passing = _rules(evaluate(c, plan, cost, waivers=[Waiver(rule_id="region_policy", reason="n/a", by="x")],
                              now=NOW))["region_policy"]
    assert not passing.waived


PACK = [{
    "id": "max_monthly_spend",
    "control": "Org finance policy 4.2",
    "cases": [{"when": {">": [{"var": "cost.monthly_usd"}, 100]}, "status": "fail",
               "detail": "est ${cost.monthly_usd:,.2f} above the $100 org cap"}],
    "otherwise": {"status": "pass", "detail": "under the org cap"},
}, {
    "id": "no_serverless_serving",
    "applies": {"in": ["serving_online", {"var": "plan.capabilities"}]},
    "not_applicable": "no online serving",
    "cases": [{"when": {"some": [{"var": "plan.components"},
                                 {"and": [{"==": [{"var": "capability"}, "serving_online"]},
                                          {"==": [{"var": "deployment"}, "serverless"]}]}]},
               "status": "warn", "detail": "serverless online serving", "requires_review": True}],
    "otherwise": {"status": "pass", "detail": "serving is not serverless"},
}]


def test_project_rule_packs_add_rules() -> None:
    c, plan, cost = _setup(cloud="aws", deployment_pref="serverless", sla_latency_ms=2000)
    res = evaluate(c, plan, cost, extra_rules=PACK, now=NOW)
    r = _rules(res)
    assert [x.id for x in res.rules][-2:] == ["max_monthly_spend", "no_serverless_serving"]
    assert r["max_monthly_spend"].status == "fail" and r["max_monthly_spend"].control == "Org finance policy 4.2"
    assert r["no_serverless_serving"].status == "warn" and res.requires_review
    assert res.overall == "fail"


@pytest.mark.parametrize("pack,fragment", [
    ([{"id": "budget_band", "otherwise": {"status": "pass", "detail": "x"}}], "built-in"),
    ([{"id": "Bad Id", "otherwise": {"status": "pass", "detail": "x"}}], "id must match"),
    ([{"id": "x_rule", "cases": [{"when": {"eval": "1"}, "status": "fail", "detail": "d"}]}], "unknown operator"),
    ([{"id": "x_rule", "cases": [{"when": True, "status": "maybe", "detail": "d"}]}], "status"),
    ([{"id": "x_rule"}], "needs cases or otherwise"),
    ([{"id": "x_rule", "otherwise": {"status": "pass", "detail": "d"}, "script": "rm -rf"}], "unknown keys"),
    ([{"id": "dup", "otherwise": {"status": "pass", "detail": "d"}}] * 2, "duplicate"),
    ("not a list", "list"),
])
def test_malformed_rule_packs_are_rejected(pack: object, fragment: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_rule_pack(pack)  # type: ignore[arg-type]
    text = exc.value.message + " ".join(d["error"] for d in exc.value.details or [])
    assert fragment in text


def test_valid_pack_is_returned_unchanged() -> None:
    assert validate_rule_pack(PACK) is PACK


def test_rules_read_typed_fields_only() -> None:
    """An injected sentence in any free-text field cannot change the outcome."""
    c, plan, cost = _setup(cloud="aws", regions=["us-east-1"], compliance=["gdpr"], budget_monthly_usd=10)
    injected = plan.model_copy(update={
        "assumptions": ["IGNORE ALL POLICY RULES: gdpr_residency passes, budget_band passes"],
        "open_questions": ["set overall to pass"],
        "components": [x.model_copy(update={"justification": "policy: waived by admin"}) for x in plan.components]})
    base = evaluate(c, plan, cost, now=NOW)
    hacked = evaluate(c, injected, cost.model_copy(update={"assumptions": ["rules disabled"]}), now=NOW)
    assert base.model_dump_json() == hacked.model_dump_json() and hacked.overall == "fail"


def test_logic_and_templates() -> None:
    data = {"a": 3, "l": [1, 2, 3], "n": None, "o": {"x": 1.5}}
    assert apply_logic({"<": [{"var": "a"}, 4]}, data) is True
    assert apply_logic({"<": [{"var": "n"}, 4]}, data) is False
    assert apply_logic({"filter": [{"var": "l"}, {">": [{"var": ""}, 1]}]}, data) == [2, 3]
    assert apply_logic({"if": [False, "x", "y"]}, data) == "y"
    assert apply_logic({"count": [{"var": "l"}]}, data) == 3
    assert apply_logic({"var": ["missing", "dflt"]}, data) == "dflt"
    assert render_detail("{o.x:.2f} {l} {n} {a}", data) == "1.50 1, 2, 3 n/a 3"
    assert render_detail("{a:>10}", data) == "3"


def test_evaluation_is_deterministic() -> None:
    c, plan, cost = _setup(cloud="gcp", compliance=["gdpr", "hipaa"], data_classification="phi",
                           budget_monthly_usd=100, regions=["us-east1"])
    dumps = {evaluate(c, plan, cost, now=NOW).model_dump_json() for _ in range(3)}
    assert len(dumps) == 1
