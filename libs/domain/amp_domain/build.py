"""What the generated Terraform must build for a plan: one model read by the renderer and the checks.

Each planned component resolves to its catalog pattern, the module template that builds it, the
resource types that show it is built, and its typed module inputs with the value per environment
(prod is the plan; dev and staging run fewer replicas of the same size). The code generator renders
the Terraform from this model, the docs name the services from it, and the conformance check in the
validators compares the rendered Terraform against it, so plan, docs and code cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from amp_contracts import Component, ConstraintSchema, Plan

from .catalog import CLOUDS, ModuleInput, Pattern, load_catalog

ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")
#: Share of the prod replica count staging runs (a quarter, at least one): enough for the load test
#: to exercise autoscaling at a quarter of the stated rate, at a quarter of the cost.
STAGING_SHARE = 4

#: Schedule syntax of the retraining trigger per cloud, by training cadence.
SCHEDULES: dict[str, dict[str, str]] = {
    "aws": {"hourly": "rate(1 hour)", "daily": "cron(0 3 * * ? *)", "weekly": "cron(0 3 ? * MON *)",
            "monthly": "cron(0 3 1 * ? *)"},
    "gcp": {"hourly": "0 * * * *", "daily": "0 3 * * *", "weekly": "0 3 * * 1", "monthly": "0 3 1 * *"},
    "azure": {"hourly": "Hour", "daily": "Day", "weekly": "Week", "monthly": "Month"},
}
#: The cadence a plan with orchestration but no stated cadence retrains at (stated in plan.md).
DEFAULT_CADENCE = "weekly"
#: When batch scoring runs, by cadence: after the nightly ingest (01:00-02:00) and retraining (03:00).
SCORE_SCHEDULES: dict[str, dict[str, str]] = {
    "aws": {"hourly": "cron(30 * * * ? *)", "daily": "cron(0 4 * * ? *)", "weekly": "cron(0 4 ? * MON *)",
            "monthly": "cron(0 4 1 * ? *)"},
    "gcp": {"hourly": "30 * * * *", "daily": "0 4 * * *", "weekly": "0 4 * * 1", "monthly": "0 4 1 * *"},
    "azure": {"hourly": "30 * * * *", "daily": "0 4 * * *", "weekly": "0 4 * * 1", "monthly": "0 4 1 * *"},
}
#: Batch scores are produced nightly unless the requirements say otherwise (stated in plan.md).
DEFAULT_SCORING_CADENCE = "daily"


@dataclass(frozen=True)
class TypedInput:
    """One module input of a component, with its HCL type and its value in each environment."""

    name: str
    spec: ModuleInput
    values: dict[str, Any]

    @property
    def prod(self) -> Any:
        return self.values["prod"]


@dataclass(frozen=True)
class BuiltComponent:
    """A planned component as the Terraform must realise it."""

    component: Component
    pattern: Pattern | None
    inputs: list[TypedInput] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # typed inputs the plan's sizing does not state

    @property
    def capability(self) -> str:
        return self.component.capability

    @property
    def module(self) -> str | None:
        return self.pattern.module if self.pattern else None

    @property
    def builds(self) -> list[str]:
        return list(self.pattern.builds) if self.pattern else []

    @property
    def sizing_variable(self) -> str:
        """Root variable holding this component's typed sizing per environment."""
        return f"{self.capability}_sizing"

    def usage_keys(self) -> list[str]:
        """Sizing keys that price usage (hours, requests) rather than configure a resource."""
        typed = {i.name for i in self.inputs}
        return [k for k in self.component.sizing if k != "basis" and k not in typed]


def pattern_of(cloud: str, component: Component) -> Pattern | None:
    if cloud not in CLOUDS:
        return None
    return load_catalog(cloud).pattern(component.pattern_id)


def hcl_value(spec: ModuleInput, value: Any) -> Any:
    """A sizing value as the module variable's type: whole numbers as ints, strings as text."""
    if spec.type == "number":
        number = float(value)
        return int(number) if number.is_integer() else round(number, 3)
    if spec.type == "bool":
        return bool(value)
    return str(value)


def env_value(spec: ModuleInput, prod: Any, env: str) -> Any:
    """The value in one environment: prod is the plan; counts shrink in dev (1) and staging (a quarter)."""
    if env == "prod" or spec.per_env != "count" or spec.type != "number":
        return prod
    if env == "dev":
        return 1
    return max(1, math.ceil(prod / STAGING_SHARE))


def built_component(cloud: str, component: Component) -> BuiltComponent:
    pattern = pattern_of(cloud, component)
    if pattern is None:
        return BuiltComponent(component=component, pattern=None)
    return BuiltComponent(component=component, pattern=pattern,
                          inputs=_typed_inputs(cloud, pattern, component),
                          missing=[n for n in pattern.inputs if n not in component.sizing])


def _typed_inputs(cloud: str, owner: Pattern, component: Component) -> list[TypedInput]:
    """The owner pattern's typed inputs valued from the component's sizing.

    A value the sizing does not state takes the pattern's sizing for default constraints, so the
    module still gets every input; the conformance check lists such values as not planned.
    """
    defaults: dict[str, Any] = {}
    if any(n not in component.sizing for n in owner.inputs):
        # lazy: assessment imports the catalog like this module; only incomplete plans need it
        from .assessment import build_context, size_pattern

        defaults = size_pattern(owner, build_context(ConstraintSchema(cloud=cloud)), list(component.regions) or ["x"])
    inputs = []
    for name, spec in owner.inputs.items():
        prod = hcl_value(spec, component.sizing.get(name, defaults.get(name)))
        inputs.append(TypedInput(name, spec, {env: env_value(spec, prod, env) for env in ENVIRONMENTS}))
    return inputs


def stand_in(cloud: str, component: Component, module: str) -> BuiltComponent:
    """A component whose pattern is not in the catalog, rendered with a catalog template.

    The template's typed inputs come from the catalog pattern that owns it; values the component's
    sizing does not state take that pattern's sizing for default constraints. The conformance check
    reports such a component (its pattern is not a catalog pattern), so this never passes silently.
    """
    owner = next((p for p in load_catalog(cloud).patterns if p.module == module), None) if cloud in CLOUDS else None
    if owner is None:
        return BuiltComponent(component=component, pattern=None)
    return BuiltComponent(component=component, pattern=None, inputs=_typed_inputs(cloud, owner, component))


def built_components(plan: Plan) -> list[BuiltComponent]:
    """One entry per planned capability (the first component of a capability wins, as in the renderer)."""
    seen: dict[str, BuiltComponent] = {}
    for comp in plan.components:
        seen.setdefault(comp.capability, built_component(plan.cloud.lower(), comp))
    return list(seen.values())


def team_work(plan: Plan) -> dict[str, list[str]]:
    """What the team writes before each built component does its job, by capability.

    A pattern's own `team_code`, and a stream processor that the repository wires only to other
    kinds of stream than the planned one (a push consumer beside an existing Kafka cluster).
    """
    work: dict[str, list[str]] = {}
    built = {b.component.capability: b.pattern for b in built_components(plan)}
    for capability, pattern in built.items():
        if pattern is not None and pattern.team_code:
            work.setdefault(capability, []).append(pattern.team_code)
    processor, stream = built.get("stream_processing"), built.get("ingest_stream")
    if processor is not None and stream is not None and processor.consumes is not None \
            and stream.service not in processor.consumes:
        work.setdefault("stream_processing", []).append(
            f"the stream's connection to the consumer (the repository wires it only to "
            f"{', '.join(processor.consumes)}; the plan's stream is {stream.name})")
    return work


def _schedule(tables: dict[str, dict[str, str]], default: str, cloud: str, cadence: str | None) -> str:
    table = tables.get(cloud, tables["aws"])
    return table.get(cadence or default, table[default])


def retrain_schedule(cloud: str, cadence: str | None) -> str:
    """The retraining schedule expression in the cloud's scheduler syntax."""
    return _schedule(SCHEDULES, DEFAULT_CADENCE, cloud, cadence)


def score_schedule(cloud: str, cadence: str | None) -> str:
    """The batch scoring schedule expression in the cloud's scheduler syntax (Container Apps jobs: cron)."""
    return _schedule(SCORE_SCHEDULES, DEFAULT_SCORING_CADENCE, cloud, cadence)


def api_rps(c: ConstraintSchema) -> float | None:
    """The peak rate the API answers: its own requests where stated apart from a stream's events."""
    return c.request_rps or c.throughput_rps


def unix_cron(cadence: str | None) -> str:
    """The retraining schedule as a five-field cron expression (Airflow's, and Cloud Scheduler's)."""
    return retrain_schedule("gcp", cadence)
