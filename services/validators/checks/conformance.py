"""Plan conformance: the generated Terraform builds the approved plan, all of it and nothing else.

Read from the same model the generator renders from (`amp_domain.build`): for each planned
component, the module call exists for each planned region, its module builds the resource types of
the pattern's service, and each typed input is declared, read by the module, passed from the
component's sizing variable and valued in `environments/prod.tfvars` exactly as planned. A module,
region or setting the plan does not have is a finding too, and so is a pattern no module builds.

A second part reconciles the cost estimate with what is built: the catalog's bill of materials is
re-evaluated with the values actually rendered per environment; prod must give the quantities the
cost critic priced, and dev/staging costs are reported.
"""

from __future__ import annotations

import re
from typing import Any

from amp_contracts import ConstraintSchema, CostEstimate, Plan
from amp_domain.build import ENVIRONMENTS, BuiltComponent, built_components
from amp_domain.reconcile import bom_lines

from ..report import Finding, ToolResult
from .base import dist_version, status_for
from .tfmodel import Infra, expression, module_dir, read_infra

TOOL = "tf-conformance"
COST_TOOL = "cost-reconcile"
#: Modules the platform owns whose plan-wide values may still arrive as a `settings` map.
SETTINGS_ALLOWED = frozenset({"monitoring", "ci_cd"})
#: Capabilities whose resources are account-wide (CI identities, the image registry) and so live in
#: `infra/bootstrap`, applied once, not in the per-environment module; only these may count them.
ACCOUNT_WIDE = frozenset({"ci_cd"})
_REGION_BLOCK = re.compile(r"^(?P<cap>[a-z_]+?)_region_\d+$")
MAIN = "infra/main.tf"
PROD = "infra/environments/prod.tfvars"


def _capability_of_call(name: str) -> str:
    m = _REGION_BLOCK.match(name)
    return m.group("cap") if m else name


def _planned_regions(plan: Plan) -> list[str]:
    seen: list[str] = []
    for region in [*plan.regions, *(r for c in plan.components for r in c.regions)]:
        if region and region not in seen:
            seen.append(region)
    return seen


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-9
    return a == b


def _component_findings(infra: Infra, bc: BuiltComponent, plan: Plan) -> list[Finding]:
    cap = bc.capability
    pid = bc.component.pattern_id
    findings: list[Finding] = []
    if bc.pattern is None:
        findings.append(Finding(rule="pattern-unknown", path=MAIN,
                                message=f"{cap}: {pid} is not a catalog pattern, so nothing says what must be built"))
    elif bc.pattern.module is None:
        findings.append(Finding(rule="pattern-not-built", path=MAIN,
                                message=f"{cap}: no generated module builds {pid} ({bc.pattern.service}); "
                                        "choose a pattern the generator builds"))
    calls = {n: c for n, c in infra.calls.items() if _capability_of_call(n) == cap}
    if not calls:
        return [*findings, Finding(rule="component-not-rendered", path=MAIN,
                                   message=f"{cap} ({pid}) is planned but the root calls no module for it")]
    if bc.pattern is None or bc.pattern.module is None:
        return findings  # a stand-in module's settings are not the plan's: the finding above says why
    planned_regions = [r for r in bc.component.regions if r] or plan.regions[:1]
    for_each = [c for c in calls.values() if "for_each" in c]
    instances = len(calls) if not for_each else len(_for_each_regions(infra, for_each[0]))
    if instances and instances != len(set(planned_regions)):
        findings.append(Finding(rule="region-count-differs", path=MAIN,
                                message=f"{cap}: {instances} module instance(s), the plan runs it in "
                                        f"{len(set(planned_regions))} region(s) ({', '.join(planned_regions)})"))
    module = infra.modules.get(module_dir(next(iter(calls.values()))) or "")
    if module is None:
        return [*findings, Finding(rule="component-not-rendered", path=MAIN,
                                   message=f"{cap}: the module directory its call names is missing")]
    built_types = {t for t, _ in module.resources}
    if cap in ACCOUNT_WIDE:
        built_types |= infra.bootstrap_types
    for rtype in bc.builds:
        if rtype not in built_types:
            findings.append(Finding(rule="service-not-built", path=f"infra/modules/{module.name}/main.tf",
                                    message=f"{cap}: the plan's {bc.pattern.service if bc.pattern else pid} needs "
                                            f"{rtype}, which neither the module nor infra/bootstrap creates"))
    declared_inputs = {i.name for i in bc.inputs}
    sizing_var = bc.sizing_variable
    prod = infra.tfvars.get("prod", {}).get(sizing_var, {})
    for name, call in calls.items():
        for arg, value in call.items():
            expr = expression(value) or ""
            if expr.startswith(f"var.{sizing_var}.") and arg not in declared_inputs:
                findings.append(Finding(rule="setting-unplanned", path=MAIN,
                                        message=f"module {name} passes sizing {arg!r}, which {pid} does not declare"))
        if "settings" in call and cap not in SETTINGS_ALLOWED:
            findings.append(Finding(rule="untyped-settings", path=MAIN,
                                    message=f"module {name} passes a free-form settings map; sizing must be typed"))
    for ti in bc.inputs:
        for name, call in calls.items():
            if expression(call.get(ti.name)) != f"var.{sizing_var}.{ti.name}":
                findings.append(Finding(rule="setting-not-rendered", path=MAIN,
                                        message=f"module {name} does not pass {ti.name} from var.{sizing_var}"))
        var = module.variables.get(ti.name)
        if var is None or var.type != ti.spec.type:
            findings.append(Finding(rule="setting-not-declared", path=f"infra/modules/{module.name}/variables.tf",
                                    message=f"{cap}: {ti.name} must be a {ti.spec.type} variable of the module"))
        if not re.search(rf"\bvar\.{re.escape(ti.name)}\b", module.text):
            findings.append(Finding(rule="setting-unused", path=f"infra/modules/{module.name}/main.tf",
                                    message=f"{cap}: the module declares {ti.name} but never reads it"))
        if ti.name not in prod:
            findings.append(Finding(rule="setting-not-rendered", path=PROD,
                                    message=f"{sizing_var}.{ti.name} (planned {ti.prod!r}) is missing"))
        elif not _same(prod[ti.name], ti.prod):
            findings.append(Finding(rule="setting-differs", path=PROD,
                                    message=f"{sizing_var}.{ti.name} is {prod[ti.name]!r}, the plan says {ti.prod!r}"))
        for env in ENVIRONMENTS:
            if ti.name not in infra.tfvars.get(env, {}).get(sizing_var, {}):
                findings.append(Finding(rule="setting-not-rendered", path=f"infra/environments/{env}.tfvars",
                                        message=f"{sizing_var}.{ti.name} has no value for {env}"))
    for extra in sorted(set(prod) - declared_inputs):
        findings.append(Finding(rule="setting-unplanned", path=PROD,
                                message=f"{sizing_var}.{extra} is not an input {pid} declares"))
    for name in bc.missing:
        findings.append(Finding(rule="setting-not-planned", path=MAIN, severity="warning",
                                message=f"{cap}: the plan's sizing has no {name}; the module got the catalog default"))
    return findings


def _for_each_regions(infra: Infra, call: dict[str, Any]) -> list[str]:
    expr = expression(call.get("for_each")) or ""
    m = re.search(r"var\.([a-z0-9_]+)", expr)
    var = infra.root_variables.get(m.group(1)) if m else None
    return list(var.default) if var and isinstance(var.default, list) else []


def conformance(files: dict[str, str], plan: Plan) -> ToolResult:
    """Compare `infra/` with the plan; every difference is a finding."""
    infra = read_infra({p: t for p, t in files.items() if p.startswith("infra/")})
    findings = [Finding(rule="hcl-parse-error", path=p, message=m) for p, m in infra.errors]
    built = built_components(plan)
    for bc in built:
        findings.extend(_component_findings(infra, bc, plan))
    planned_caps = {bc.capability for bc in built}
    for name in sorted(infra.calls):
        if _capability_of_call(name) not in planned_caps:
            findings.append(Finding(rule="unplanned-module", path=MAIN,
                                    message=f"module {name} builds something the plan does not have"))
    for directory in sorted(infra.modules):
        if directory not in planned_caps:
            findings.append(Finding(rule="unplanned-module", path=f"infra/modules/{directory}",
                                    message=f"modules/{directory} is not a planned component"))
    regions_var = infra.root_variables.get("regions")
    rendered = list(regions_var.default) if regions_var and isinstance(regions_var.default, list) else []
    planned = _planned_regions(plan)
    for region in planned:
        if region not in rendered:
            findings.append(Finding(rule="region-not-rendered", path="infra/variables.tf",
                                    message=f"planned region {region} is not in var.regions"))
    for region in rendered:
        if region not in planned:
            findings.append(Finding(rule="region-unplanned", path="infra/variables.tf",
                                    message=f"var.regions has {region}, which the plan does not use"))
    if rendered and planned and rendered[0] != planned[0]:
        findings.append(Finding(rule="region-differs", path="infra/variables.tf",
                                message=f"primary region is {rendered[0]}, the plan's is {planned[0]}"))
    return ToolResult(tool=TOOL, version=dist_version("python-hcl2"), status=status_for(findings),
                      findings=findings, isolation="in-process parser (reads files only; nothing executed)")


def cost_reconcile(files: dict[str, str], plan: Plan, constraints: ConstraintSchema,
                   cost: CostEstimate | None) -> ToolResult:
    """The bill of materials of what is rendered, per environment, against the estimate that was approved."""
    infra = read_infra({p: t for p, t in files.items() if p.startswith("infra/")})
    findings: list[Finding] = []
    priced: dict[tuple[str, str], float] = {}
    for item in (cost.breakdown if cost else []):
        key = (item.component or "", item.region or "")
        priced[key] = round(priced.get(key, 0.0) + item.usd, 2)
    totals = {env: 0.0 for env in ENVIRONMENTS}
    shared: dict[str, set[tuple[str, str]]] = {env: set() for env in ENVIRONMENTS}
    for bc in built_components(plan):
        calls = [n for n in infra.calls if _capability_of_call(n) == bc.capability]
        for env in ENVIRONMENTS:
            rendered = infra.tfvars.get(env, {}).get(bc.sizing_variable, {})
            sizing = {**bc.component.sizing, **{k: v for k, v in rendered.items() if k in {i.name for i in bc.inputs}}}
            lines = bom_lines(plan.cloud, bc.component, sizing, constraints, shared[env])
            totals[env] += sum(usd for _, _, usd in lines)
            if env != "prod" or cost is None:
                continue
            if lines and not calls:
                findings.append(Finding(rule="priced-not-built", path=MAIN,
                                        message=f"{bc.component.pattern_id} is priced but no module builds it"))
            by_region: dict[str, float] = {}
            for _, region, usd in lines:
                by_region[region] = round(by_region.get(region, 0.0) + usd, 2)
            for region, usd in sorted(by_region.items()):
                estimated = priced.get((bc.component.pattern_id, region))
                if estimated is None or abs(estimated - usd) > max(0.05, 0.005 * usd):
                    findings.append(Finding(rule="cost-differs", path=PROD,
                                            message=f"{bc.component.pattern_id} in {region}: what is rendered costs "
                                                    f"${usd:,.2f}/month, the estimate priced "
                                                    f"{'nothing' if estimated is None else f'${estimated:,.2f}'}"))
    if cost is not None and abs(totals["prod"] - cost.monthly_usd) > max(1.0, 0.005 * cost.monthly_usd):
        findings.append(Finding(rule="cost-differs", path=PROD,
                                message=f"prod as rendered costs ${totals['prod']:,.2f}/month; "
                                        f"the approved estimate is ${cost.monthly_usd:,.2f}"))
    findings.append(Finding(rule="environment-cost", path="infra/environments", severity="note",
                            message="; ".join(f"{env} ${totals[env]:,.2f}/month" for env in ENVIRONMENTS)))
    return ToolResult(tool=COST_TOOL, version="", status=status_for(findings), findings=findings,
                      isolation="in-process parser (reads files only; nothing executed)")
