"""Where the data must stay: a country keeps its region, a wider jurisdiction picks one inside it.

"Data must not leave Germany" was read as a denial of Germany, and "customer data must stay within
the EU" named no region, so both plans went to the cloud's default region in the US while policy
passed. A country kept by such a phrase is its region; a jurisdiction wider than a region is the
data's residency, which the planner places the plan in and a policy rule holds it to.
"""

from __future__ import annotations

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.catalog import load_catalog, region_geo
from amp_domain.requirements.coverage import check_coverage
from amp_domain.requirements.extract_answers import coerce_answer
from amp_domain.requirements.extraction import extract

from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.policy.engine import evaluate


@pytest.mark.parametrize(("text", "regions"), [
    ("Azure batch scoring. Data must not leave Germany.", ["germanywestcentral"]),
    ("Client data must not leave Switzerland. GCP, nightly batch.", ["europe-west6"]),
    ("On AWS; nothing may be stored outside the UK.", ["eu-west-2"]),
    ("Records never leave Canada; Azure.", ["canadacentral"]),
])
def test_a_country_the_data_must_not_leave_is_its_region(text: str, regions: list[str]) -> None:
    assert extract(text).constraints.regions == regions


@pytest.mark.parametrize(("text", "geo"), [
    ("PII on AWS; customer data must stay within the EU.", "eea"),
    ("GCP, any EU region is fine.", "eea"),
    ("Azure, EU only.", "eea"),
    ("Hosted in Europe on Azure.", "eea"),
    ("GDPR applies and data may not be stored outside the EU. Azure.", "eea"),
    ("EU data residency is required; GCP.", "eea"),
    ("Data must remain in the US. GCP.", "us"),
    ("Everything hosted in the United States, on Azure.", "us"),
    ("Data must stay in the E.U.; Azure.", "eea"),
])
def test_a_jurisdiction_wider_than_a_region_is_the_datas_residency(text: str, geo: str) -> None:
    c = extract(text).constraints
    assert c.data_residency == geo and c.regions == []


@pytest.mark.parametrize("text", [
    "We sell to EU customers on AWS.",            # a market, not where the data is
    "Our US customers log in from phones. AWS.",
    "Not hosted in the EU; AWS.",                  # denied
    "Users across the US and EU, on AWS.",          # two, and no residency
    "AWS US East (N. Virginia), us-east-1.",        # a region's display name
    "Azure North Europe, West Europe as secondary.",
    "We are leaving Germany for a cheaper region; Azure.",
    "Our EU customers' data is stored in us-east-1 on AWS.",       # the region holds it; EU is the market
    "Deploy in us-east-1 and replicate to the EU for DR.",
    "Europe-wide retailer hosted on GCP us-central1.",
    "EU residency is not required. AWS us-east-1.",
    "Unlike our GovCloud workloads, this one runs in AWS us-east-1.",
    "Azure Government cloud is not needed; deploy in East US.",
    "The US team stores models in S3; deploy on AWS in eu-west-1.",
    "Our store in the US sells shoes.",
    "A Japanese OCR model deployed on AWS in us-east-1.",           # a language, not a place to keep data
    "The model serves British English and is deployed in us-central1.",
    "Store Swiss franc transactions on AWS.",
])
def test_markets_regions_and_denials_set_no_residency(text: str) -> None:
    assert extract(text).constraints.data_residency is None


def _planned(text: str) -> tuple[ConstraintSchema, list[str], dict[str, str]]:
    c = extract(text).constraints
    plan = compose_plan(c)
    policy = evaluate(c, plan, estimate(plan, c))
    regions = sorted({r for comp in plan.components for r in comp.regions})
    return c, regions, {r.id: r.status for r in policy.rules}


@pytest.mark.parametrize(("text", "geo"), [
    ("Real-time recommendations API on AWS, 200 ms p95. Customer data must stay within the EU. PII.", "eea"),
    ("Nightly churn scoring on GCP. Personal data; it may not leave the EU.", "eea"),
    ("Fraud scoring on Azure; the data must stay in Switzerland.", "ch"),
    ("Support ticket routing on GCP. Data must remain in the US.", "us"),
])
def test_the_plan_stays_in_the_jurisdiction_and_policy_checks_it(text: str, geo: str) -> None:
    c, regions, rules = _planned(text)
    assert c.data_residency == geo
    assert regions and all(region_geo(r) == geo for r in regions), regions
    assert rules["data_residency"] == "pass"


def test_a_region_outside_the_jurisdiction_fails_the_residency_rule() -> None:
    c = ConstraintSchema(cloud="aws", regions=["us-east-1"], data_residency="eea", workload_types=["online"])
    plan = compose_plan(c)
    rule = next(r for r in evaluate(c, plan, estimate(plan, c)).rules if r.id == "data_residency")
    assert rule.status == "fail" and "us-east-1" in rule.detail
    inside = ConstraintSchema(cloud="aws", data_residency="eea", workload_types=["online"])
    plan = compose_plan(inside)
    assert plan.regions == [load_catalog("aws").gdpr_default_region]
    rule = next(r for r in evaluate(inside, plan, estimate(plan, inside)).rules if r.id == "data_residency")
    assert rule.status == "pass"


def test_no_region_of_the_jurisdiction_asks_which_region() -> None:
    """Google Cloud has no US government regions: the plan cannot place the data, and says so."""
    c = ConstraintSchema(cloud="gcp", data_residency="us-gov", workload_types=["online"])
    plan = compose_plan(c)
    assert any("us-gov" in q for q in plan.open_questions), plan.open_questions
    rule = next(r for r in evaluate(c, plan, estimate(plan, c)).rules if r.id == "data_residency")
    assert rule.status == "fail"


def test_a_stated_region_outside_the_jurisdiction_blocks_intake() -> None:
    c = extract("Fraud scoring API on AWS us-east-1; the data must stay within the EU. PII.").constraints
    assert c.regions == ["us-east-1"] and c.data_residency == "eea"
    blocking = [x for x in check_coverage(c).conflicts if x.severity == "block" and "data_residency" in x.fields]
    assert blocking and "us-east-1" in blocking[0].message
    inside = extract("Fraud scoring API on AWS eu-central-1; the data must stay within the EU. PII.").constraints
    assert not [x for x in check_coverage(inside).conflicts if "data_residency" in x.fields]


@pytest.mark.parametrize(("text", "cloud", "region"), [
    ("FedRAMP High case triage on AWS GovCloud.", "aws", "us-gov-west-1"),
    ("Azure Government, FedRAMP High, online API.", "azure", "usgovvirginia"),
    ("Hosted in AWS GovCloud; the data must stay in the US.", "aws", "us-gov-west-1"),
])
def test_a_government_cloud_named_is_where_the_plan_runs(text: str, cloud: str, region: str) -> None:
    c = extract(text).constraints
    assert c.cloud == cloud and c.data_residency == "us-gov"
    plan = compose_plan(c)
    assert {r for comp in plan.components for r in comp.regions} == {region}


def test_a_government_cloud_denied_is_no_residency() -> None:
    assert extract("We are not on GovCloud; AWS.").constraints.data_residency is None


def test_a_country_kept_beside_a_region_elsewhere_is_a_conflict_not_a_pass() -> None:
    """"Must not leave Switzerland, but deploy in West Europe": the region is named, so the country's
    region is not taken; what stays of the country is the residency, which the region breaks."""
    c = extract("Patient data must not leave Switzerland, but for cost reasons we want to deploy in "
                "Azure West Europe.").constraints
    assert c.regions == ["westeurope"] and c.data_residency == "ch"
    assert [x for x in check_coverage(c).conflicts if x.severity == "block" and "data_residency" in x.fields]
    plan = compose_plan(c)
    rule = next(r for r in evaluate(c, plan, estimate(plan, c)).rules if r.id == "data_residency")
    assert rule.status == "fail" and "westeurope" in rule.detail


@pytest.mark.parametrize("text", ["Hosted in Azure West Europe.", "Deploy in North Europe on Azure.",
                                  "AWS Europe (Ireland), eu-west-1."])
def test_a_regions_own_name_is_no_jurisdiction(text: str) -> None:
    assert extract(text).constraints.data_residency is None


@pytest.mark.parametrize(("text", "regions"), [
    ("Our account is in the Dutch data centre; Azure.", ["westeurope"]),
    ("Hosted in a Swiss data center on GCP.", ["europe-west6"]),
    ("Data must stay in an Irish region, AWS.", ["eu-west-1"]),
])
def test_a_country_named_by_its_adjective_is_its_region(text: str, regions: list[str]) -> None:
    assert extract(text).constraints.regions == regions


@pytest.mark.parametrize("text", [
    "German and French customers buy on our shop; AWS.",
    "A Japanese OCR model deployed on AWS.",                 # a residency word nearby, but the adjective is the model's
    "Classify French legal documents stored in S3 on AWS.",
    "A Spanish speech model hosted on GCP.",
])
def test_an_adjective_that_is_not_a_data_centres_names_no_region(text: str) -> None:
    assert extract(text).constraints.regions == []


def test_an_eea_country_kept_beside_a_region_elsewhere_keeps_the_data_in_the_eea() -> None:
    c = extract("Patient data must not leave Germany, but we deploy in AWS us-east-1.").constraints
    assert c.regions == ["us-east-1"] and c.data_residency == "eea"
    assert [x for x in check_coverage(c).conflicts if x.severity == "block" and "data_residency" in x.fields]


def test_a_jurisdiction_stated_answers_the_region_question() -> None:
    c = extract("Churn API on AWS; customer data must stay within the EU. Budget $3,000 a month.").constraints
    assert c.regions == [] and c.data_residency == "eea"
    coverage = check_coverage(c)
    assert "regions" not in coverage.blocking and "regions" not in coverage.missing
    assert "regions" in check_coverage(c.model_copy(update={"data_residency": None})).blocking


@pytest.mark.parametrize(("value", "geo"), [("EU", "eea"), ("Europe", "eea"), ("the United States", "us"),
                                            ("Switzerland", "ch"), ("uk", "uk"), ("Frankfurt", "eea")])
def test_a_residency_answered_in_words_is_its_jurisdiction(value: str, geo: str) -> None:
    assert coerce_answer("data_residency", value, "aws") == geo
