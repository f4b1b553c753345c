"""Deterministic code generation: an approved plan in, a whole repository (path -> text) out.

This is the codegen provider that needs no model: it composes static templates keyed by
(cloud, capability) with what the plan decided. Same inputs give the identical dict (no
timestamps, sorted paths), which the diff-first persistence relies on; it is pure and fast
enough (a few milliseconds) to run in the request path.
"""

from __future__ import annotations

import json
import re

from amp_contracts import ConstraintSchema, CostEstimate, Plan, PolicyResults, ReasonCard, Risk
from amp_domain.build import api_rps, retrain_schedule, score_schedule
from amp_domain.compliance import data_stays_in_scope

from .airflow_dag import airflow_orchestrated, render_dag
from .cicd_names import ENVIRONMENTS, CiNames, project_digest
from .metric_table import DEAD_LETTERS, FAILED_QUEUE, metric_table
from .render_app import render_project, render_python
from .render_bootstrap import gcp_bootstrap_apis, gcp_cmek_agents, render_bootstrap
from .render_ci import CiContext, load_script, render_workflows
from .render_compliance import compliance_md
from .render_docs import adrs, architecture_md, design_rationale_md, plan_md, reports
from .render_domain import choose_domain, example_row
from .render_kubernetes import example_values, render_manifests
from .render_monitoring import render_alarms, render_metrics_code, runbook_md
from .render_readme import deploy_md, readme_md
from .render_terraform import all_regions, module_mains, module_outputs, module_resource_types, render_infra
from .render_text import slugify
from .security_events import cloud_security_runbook_md, render_cloud_security
from .serving_access import image_packages, serving_access

SUPPORTED_CLOUDS: tuple[str, ...] = ("aws", "gcp", "azure")
_ROOT_VAR = re.compile(r'^variable "([a-z0-9_]+)"', re.MULTILINE)
#: A job of pipelines/ that the infrastructure or a workflow starts (as a module or uploads as a file).
_STARTED_JOB = re.compile(r"\bpipelines[./]([a-z_]+)\b(?!/)")
_ROOT_OUTPUT = re.compile(r'^output "([a-z0-9_]+)" \{\n(?:  .*\n)*?  value += (.*)$', re.MULTILINE)


def root_outputs(outputs_tf: str) -> dict[str, bool]:
    """Root output names, each with whether it is a per-region map (a `for` over module instances)."""
    return {name: value.startswith("{ for ") for name, value in _ROOT_OUTPUT.findall(outputs_tf)}


def _extra_settings(constraints: ConstraintSchema) -> dict[str, dict[str, str]]:
    """Plan-wide values the platform's monitoring module reads (component sizing is typed, not here)."""
    out: dict[str, dict[str, str]] = {}
    if constraints.sla_latency_ms:
        out["monitoring"] = {"latency_slo_ms": f"{constraints.sla_latency_ms:g}"}
    return out


def _root_inputs(cloud: str, constraints: ConstraintSchema, plan: Plan) -> dict[str, object]:
    """Plan-wide root variables: the retraining and batch scoring schedules in the cloud scheduler's
    syntax, and what starts retraining (the team's Airflow, where the plan reuses it)."""
    return {"retrain_schedule": retrain_schedule(cloud, constraints.training_cadence),
            "score_schedule": score_schedule(cloud, constraints.scoring_cadence),
            "cmek_agents": gcp_cmek_agents(module_mains(plan, cloud)) if cloud == "gcp" else [],
            "retrain_trigger": "airflow" if airflow_orchestrated(plan) else "schedule"}


def failure_store(outputs: dict[str, list[str]]) -> str | None:
    """The root output naming where the stream consumer's failures are kept (a queue of failed
    batches, a dead-letter subscription), when the plan has a consumer and its modules keep them.
    `outputs`: each capability's module outputs (`module_outputs`)."""
    if "stream_processing" not in outputs:
        return None
    return next((f"{cap}_{name}" for cap, names in outputs.items() for name in names
                 if f"_{name}" in (FAILED_QUEUE, DEAD_LETTERS)), None)


def render_repository(
    plan: Plan,
    constraints: ConstraintSchema,
    cost: CostEstimate | None,
    policy: PolicyResults | None,
    risks: list[Risk],
    cards: list[ReasonCard],
    project_name: str,
    requirements: str = "",
    project_id: str = "",
) -> dict[str, str]:
    """Every file of the generated repository, keyed by POSIX path, in sorted order.

    `requirements` is the user's text: the workload domain is read from it (and from the project
    name), so that a fraud API trains on transactions and an unknown task keeps the user's words.
    `project_id` is the platform's id of the project: the names the workflows must know before
    Terraform runs and that are unique across the cloud carry a digest of it (`project_digest`).
    """
    cloud = plan.cloud.lower()
    if cloud not in SUPPORTED_CLOUDS:
        raise ValueError(f"unsupported cloud {plan.cloud!r}; expected one of {', '.join(SUPPORTED_CLOUDS)}")
    if not plan.components:
        raise ValueError("the plan has no components to generate")
    plan = plan.model_copy(update={"cloud": cloud})
    slug = slugify(project_name)
    domain = choose_domain(plan, constraints, f"{project_name}. {requirements}")
    caps = {c.capability for c in plan.components}

    module_outs = module_outputs(plan, cloud)  # what each module will provide, before anything is rendered
    failures = failure_store(module_outs)
    kafka = "topic" in module_outs.get("ingest_stream", [])
    table = metric_table(constraints, caps, failures, tuple(sorted(module_resource_types(plan, cloud))), kafka)
    access = serving_access(plan)
    serving_resource = "k8s_container" if access and access.in_cluster else "cloud_run_revision"
    additions = {"monitoring": render_alarms(cloud, table, serving_resource)} if "monitoring" in caps else {}
    deployers = [CiNames(cloud, slug).deploy_identity(env) for env in ENVIRONMENTS]
    security = "audit_logging" in caps
    if security:
        additions["audit_logging"] = render_cloud_security(cloud, deployers)
    files: dict[str, str] = {}
    root_inputs = _root_inputs(cloud, constraints, plan)
    files.update(render_infra(plan, cloud, slug, [f.name for f in domain.features], _extra_settings(constraints),
                              root_inputs, additions))
    root_vars = set(_ROOT_VAR.findall(files["infra/variables.tf"]))
    outputs = root_outputs(files["infra/outputs.tf"])
    files.update(render_python(domain, caps, version=f"{slug}-baseline-1", cloud=cloud,
                               adapter=access.adapter if access else "", packages=image_packages(plan),
                               failed_queue=bool(failures and failures.endswith(FAILED_QUEUE))))
    files.update(render_project(slug, project_name, cloud))
    if (serving := plan.component("serving_online")) and access and access.in_cluster:
        sizing = serving.sizing
        examples = example_values(cloud, slug, sizing, api_rps(constraints), constraints.sla_latency_ms)
        files.update(render_manifests(cloud, bool(sizing.get("basis", {}).get("gpu")), examples))
    if airflow_orchestrated(plan):
        files.update(render_dag(cloud, slug, constraints.training_cadence))
    unique = project_digest(project_id)
    files.update(render_bootstrap(cloud, slug, all_regions(plan), files, caps, unique=unique))
    files.update(render_workflows(CiContext(
        cloud=cloud, slug=slug, region=all_regions(plan)[0], root_vars=root_vars,
        root_outputs=outputs, caps=caps, metrics=table,
        rps=api_rps(constraints), p95_ms=constraints.sla_latency_ms, cadence=constraints.training_cadence,
        access=access, unique=unique, data_scope=data_stays_in_scope(constraints))))
    files.update(render_metrics_code(cloud, table))
    files["docs/runbook.md"] = runbook_md(project_name, table, cloud,
                                          cloud_security_runbook_md(cloud, deployers) if security else [])
    files["tests/load/k6.js"] = load_script(access)
    files["tests/load/request.json"] = json.dumps(example_row(domain), indent=2) + "\n"
    files.update(reports(cost, policy))
    files.update(adrs(plan, constraints, cost, risks))
    files["plan.md"] = plan_md(project_name, plan, constraints, cost, policy, risks)
    files["docs/architecture.md"] = architecture_md(plan, domain)
    files["docs/design-rationale.md"] = design_rationale_md(cards, plan)
    agents = root_inputs["cmek_agents"] if plan.component("security_kms") else []
    files["docs/README.md"] = deploy_md(project_name, plan, constraints, slug, access, failures,
                                        gcp_bootstrap_apis(files) if cloud == "gcp" else None, agents)
    if (compliance := compliance_md(plan, constraints, domain)) is not None:
        files["docs/compliance.md"] = compliance
    started = {job for path, text in files.items() if path.startswith(("infra/", ".github/"))
               for job in _STARTED_JOB.findall(text)}
    files["README.md"] = readme_md(project_name, plan, domain, set(files), started)
    return dict(sorted(files.items()))
