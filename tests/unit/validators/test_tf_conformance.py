"""The Terraform checks over every shared scenario on every cloud, and mutations each must catch.

Each scenario's text goes through the real chain (extract -> plan -> estimate) and is rendered for
its own cloud and forced onto the two others. The planner offers only patterns a generated module
builds, so the module-interface, conformance and cost checks pass for every case. Then single edits
a reviewer could make by hand (drop a setting, change one, add an unplanned module, pass an
undeclared argument, drop a region) must each be caught, and so must a plan naming a pattern no
module builds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.build import built_components
from amp_domain.catalog import load_catalog
from amp_domain.requirements.extraction import extract

import services.codegen
from services.codegen.metric_table import metric_table
from services.codegen.render import render_repository
from services.codegen.render_monitoring import render_alarms
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.validators.checks.conformance import conformance, cost_reconcile
from services.validators.checks.interface import check_calls
from services.validators.checks.tfmodel import read_infra
from tests.evaldata import scenarios

TEMPLATES = Path(services.codegen.__file__).parent / "templates" / "terraform"

CLOUDS = ("aws", "gcp", "azure")
FORCED_REGION = {"aws": ["eu-west-1"], "gcp": ["europe-west4"], "azure": ["westeurope"]}


def _case(scenario: dict, cloud: str):
    stated = extract(scenario["text"]).constraints
    constraints = stated if stated.cloud == cloud else stated.model_copy(
        update={"cloud": cloud, "regions": FORCED_REGION[cloud]})
    plan = compose_plan(constraints)
    cost = estimate(plan, constraints)
    files = render_repository(plan, constraints, cost, None, [], [], scenario["id"])
    return plan, constraints, cost, files


@pytest.fixture(scope="module")
def cases() -> dict[str, tuple]:
    return {f"{s['id']}__{cloud}": _case(s, cloud) for s in scenarios() for cloud in CLOUDS}


def _rules(result) -> list[str]:
    return [f.rule for f in result.findings if f.severity == "error"]


def test_every_planned_pattern_has_a_module(cases):
    for name, (plan, _, _, _) in cases.items():
        unbuilt = {bc.component.pattern_id for bc in built_components(plan) if bc.pattern is None or bc.module is None}
        assert not unbuilt, name


def test_module_interface_holds_for_every_scenario_and_cloud(cases):
    for name, (_, _, _, files) in cases.items():
        assert check_calls(read_infra(files)) == [], name


def test_conformance_passes_for_every_scenario_and_cloud(cases):
    assert len(cases) == len(scenarios()) * len(CLOUDS)
    for name, (plan, _, _, files) in cases.items():
        result = conformance(files, plan)
        assert result.status == "pass", (name, [f.message for f in result.findings])


def test_a_plan_naming_a_pattern_no_module_builds_fails_conformance(cases):
    """Forced past the planner (a hand-edited plan): the unbuilt pattern is named, a stand-in never passes."""
    plan, constraints, cost, _ = cases["fraud-eu-pci__aws"]
    cat = load_catalog("aws")
    unbuilt = next(p for p in cat.for_capability("serving_online") if p.module is None)
    comps = [c.model_copy(update={"pattern_id": unbuilt.id, "service": unbuilt.service, "name": unbuilt.name,
                                  "deployment": unbuilt.deployment})
             if c.capability == "serving_online" else c for c in plan.components]
    edited = plan.model_copy(update={"components": comps})
    files = render_repository(edited, constraints, cost, None, [], [], "hand-edited")
    result = conformance(files, edited)
    assert result.status == "fail"
    assert "pattern-not-built" in _rules(result)
    assert any(unbuilt.id in f.message for f in result.findings if f.rule == "pattern-not-built")


def test_cost_of_what_is_built_reconciles_per_environment(cases):
    for name, (plan, constraints, cost, files) in cases.items():
        result = cost_reconcile(files, plan, constraints, cost)
        assert result.status == "pass", (name, [f.message for f in result.findings])
        note = next(f.message for f in result.findings if f.rule == "environment-cost")
        dev, staging, prod = (float(x.replace(",", "")) for x in re.findall(r"\$([0-9,.]+)/month", note))
        assert dev <= staging <= prod, (name, note)
        assert abs(prod - cost.monthly_usd) <= max(1.0, 0.005 * cost.monthly_usd), name


# --------------------------------------------------------------------------- mutations

def _fraud(cases):
    plan, constraints, cost, files = cases["fraud-eu-pci__aws"]
    return plan, constraints, cost, dict(files)


def test_dropping_a_setting_from_prod_fails(cases):
    plan, _, _, files = _fraud(cases)
    files["infra/environments/prod.tfvars"] = re.sub(r"\n\s*max_tasks\s*=\s*\d+", "",
                                                     files["infra/environments/prod.tfvars"])
    assert "setting-not-rendered" in _rules(conformance(files, plan))


def test_changing_a_planned_size_fails_and_its_cost_differs(cases):
    plan, constraints, cost, files = _fraud(cases)
    files["infra/environments/prod.tfvars"] = re.sub(r"(\btasks\s*=\s*)(\d+)", lambda m: f"{m.group(1)}{int(m.group(2)) // 2}",
                                                     files["infra/environments/prod.tfvars"], count=1)
    assert "setting-differs" in _rules(conformance(files, plan))
    assert "cost-differs" in _rules(cost_reconcile(files, plan, constraints, cost))


def test_a_module_that_ignores_a_setting_fails(cases):
    plan, _, _, files = _fraud(cases)
    main = files["infra/modules/serving_online/main.tf"]
    files["infra/modules/serving_online/main.tf"] = main.replace("var.max_tasks", "3")
    assert "setting-unused" in _rules(conformance(files, plan))


def test_an_unplanned_module_fails(cases):
    plan, _, _, files = _fraud(cases)
    files["infra/main.tf"] += '\nmodule "feature_store" {\n  source = "./modules/feature_store"\n}\n'
    files["infra/modules/feature_store/main.tf"] = 'resource "aws_sagemaker_feature_group" "x" {}\n'
    rules = _rules(conformance(files, plan))
    assert rules.count("unplanned-module") == 2


def test_an_unplanned_setting_fails(cases):
    plan, _, _, files = _fraud(cases)
    files["infra/environments/prod.tfvars"] = files["infra/environments/prod.tfvars"].replace(
        "serving_online_sizing = {\n", "serving_online_sizing = {\n  gpu_count = 4\n")
    assert "setting-unplanned" in _rules(conformance(files, plan))


def test_a_module_that_does_not_build_the_planned_service_fails(cases):
    plan, _, _, files = _fraud(cases)
    files["infra/modules/serving_online/main.tf"] = files["infra/modules/serving_online/main.tf"].replace(
        'resource "aws_lb" "api"', 'resource "aws_alb_placeholder" "api"')
    assert "service-not-built" in _rules(conformance(files, plan))


def test_a_missing_or_extra_region_fails(cases):
    plan, _, _, files = cases["two-region-ha__aws"]
    files = dict(files)
    regions = re.search(r'default\s*=\s*(\[[^\]]*\])', files["infra/variables.tf"].split('variable "regions"')[1])
    assert regions and "us-west-2" in regions.group(1)
    files["infra/variables.tf"] = files["infra/variables.tf"].replace('"us-west-2"', '"eu-north-1"', 1)
    rules = _rules(conformance(files, plan))
    assert "region-not-rendered" in rules and "region-unplanned" in rules


def test_an_undeclared_argument_and_a_missing_required_one_fail_the_interface(cases):
    for cloud in CLOUDS:
        name = next(n for n in cases if n.endswith(f"__{cloud}"))
        files = dict(cases[name][3])
        main = files["infra/main.tf"]
        first = re.search(r'module "([a-z_]+)" \{\n  source = "[^"]+"\n', main)
        assert first
        files["infra/main.tf"] = main[:first.end()] + '  replicas_typo = 3\n' + main[first.end():]
        rules = [f.rule for f in check_calls(read_infra(files))]
        assert "undeclared-argument" in rules, cloud
        files["infra/main.tf"] = re.sub(r"\n  name_prefix\s*=\s*local\.name_prefix", "", main, count=1)
        assert "required-variable-not-passed" in [f.rule for f in check_calls(read_infra(files))], cloud


def test_a_type_mismatch_fails_the_interface(cases):
    files = dict(cases["fraud-eu-pci__aws"][3])
    files["infra/main.tf"] = files["infra/main.tf"].replace("vcpu         = var.serving_online_sizing.vcpu",
                                                            'vcpu         = "two"')
    assert "type-mismatch" in [f.rule for f in check_calls(read_infra(files))]


def test_every_buildable_pattern_template_reads_each_typed_input():
    """One source of truth: the catalog's inputs are exactly what the pattern's template reads, and
    what it builds is in its module (the monitoring module's alarms come from the metric table; CI's
    account-wide identities from the bootstrap stack)."""
    from services.codegen.render_text import load  # noqa: PLC0415 - test helper, no import cycle

    for cloud in CLOUDS:
        alarms = render_alarms(cloud, metric_table(ConstraintSchema(cloud=cloud), {"serving_online", "training", "monitoring"}))
        bootstrap = "\n".join(p.read_text() for p in sorted((TEMPLATES / cloud / "bootstrap").glob("*.tf")))
        for p in load_catalog(cloud).patterns:
            if p.module is None:
                continue
            text = load(f"terraform/{cloud}/modules/{p.module}.tf")
            assert text is not None, (p.id, p.module)
            for name in p.inputs:
                assert re.search(rf"\bvar\.{name}\b", text), (p.id, name)
            built = text + {"monitoring": alarms, "ci_cd": bootstrap}.get(p.capability, "")
            for rtype in p.builds:
                assert f'resource "{rtype}"' in built, (p.id, rtype)
