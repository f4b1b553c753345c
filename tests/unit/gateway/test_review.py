"""The review read model: what a reviewer approves, against the version before it."""

from __future__ import annotations

from services.gateway.review import review

PARENT = {
    "version": 1, "status": "superseded", "requirements": "fraud API", "input_constraints": {},
    "approval": {"status": "approved", "comment": "use eu-central-1 instead", "by": "ana"},
    "constraints": {"cloud": "aws", "regions": ["eu-west-1"], "budget_monthly_usd": 6000},
    "cost": {"monthly_usd": 2000.0, "breakdown": [
        {"service": "Fargate vCPU", "component": "aws:serving_online:ecs-fargate", "region": "eu-west-1", "usd": 1200.0},
        {"service": "NAT gateway", "component": "aws:networking_private:vpc", "region": "eu-west-1", "usd": 80.0}]},
    "policy": {"overall": "warn", "rules": [{"id": "region_policy", "status": "pass", "detail": "ok"},
                                            {"id": "budget_band", "status": "warn", "detail": "close"}]},
}
CHILD = {
    "version": 2, "status": "waiting_approval", "requirements": "fraud API", "input_constraints": {},
    "constraints": {"cloud": "aws", "regions": ["eu-central-1"], "budget_monthly_usd": 6000},
    "cost": {"monthly_usd": 2150.0, "low_usd": 1800.0, "high_usd": 2700.0, "delta_vs_prev_usd": 150.0,
             "breakdown": [
                 {"service": "Fargate vCPU", "component": "aws:serving_online:ecs-fargate", "region": "eu-central-1",
                  "qty": "40 vCPU", "unit_price_usd": 0.04, "usd": 1350.0}]},
    "policy": {"overall": "pass", "rules": [{"id": "region_policy", "status": "pass", "detail": "ok"},
                                            {"id": "budget_band", "status": "pass", "detail": "fine"}]},
    "risks": [{"id": "r1", "severity": "low", "title": "t", "detail": "d"}],
}


def test_constraints_before_and_after_and_who_changed_them() -> None:
    r = review(CHILD, PARENT)
    regions = next(c for c in r["constraints"] if c["key"] == "regions")
    assert regions["changed"] and regions["before"] == "eu-west-1" and regions["value"] == "eu-central-1"
    assert regions["label"] == "Regions"
    assert not next(c for c in r["constraints"] if c["key"] == "cloud")["changed"]
    assert r["changed_by"]["kind"] == "review" and r["changed_by"]["comment"] == "use eu-central-1 instead"


def test_new_requirements_are_told_apart_from_a_review() -> None:
    parent = {**PARENT, "status": "completed", "approval": {"status": "approved", "comment": ""}}
    child = {**CHILD, "requirements": "fraud API with a GPU"}
    assert review(child, parent)["changed_by"]["kind"] == "requirements"


def test_cost_lines_carry_quantities_prices_and_deltas_including_lines_that_went() -> None:
    r = review(CHILD, PARENT)
    assert r["cost"]["budget_used_pct"] == round(100 * 2150 / 6000, 1) and r["cost"]["delta_usd"] == 150.0
    lines = {line["service"]: line for line in r["cost_lines"]}
    fargate = lines["Fargate vCPU"]
    assert fargate["qty"] == "40 vCPU" and fargate["unit_price_usd"] == 0.04 and fargate["regions"] == ["eu-central-1"]
    assert fargate["before_usd"] == 1200.0 and fargate["delta_usd"] == 150.0  # moved region: still the same line
    gone = lines["NAT gateway"]
    assert gone["usd"] == 0.0 and gone["delta_usd"] == -80.0


def test_policy_changes_are_marked() -> None:
    rules = {r["id"]: r for r in review(CHILD, PARENT)["policy"]["rules"]}
    assert rules["budget_band"]["changed"] and rules["budget_band"]["before"] == "warn"
    assert not rules["region_policy"]["changed"]


def test_a_first_version_has_nothing_to_compare() -> None:
    r = review(CHILD, None)
    assert r["changed_by"] is None and not any(c["changed"] for c in r["constraints"])
    assert all(line["delta_usd"] is None for line in r["cost_lines"])


def test_constraints_that_differ_from_the_requirement_text_are_named() -> None:
    child = {**CHILD, "requirements": "Fraud scoring API on AWS eu-west-1, budget $6,000 per month"}
    overrides = review(child, PARENT)["text_overrides"]
    assert [(o["key"], o["text"], o["value"]) for o in overrides] == [("regions", "eu-west-1", "eu-central-1")]
    assert review({**child, "constraints": {**CHILD["constraints"], "regions": ["eu-west-1"]}}, PARENT)["text_overrides"] == []
