"""The capability-pattern catalog: versioned YAML data, its validation model and sizing rules.

The planner reasons only over what these files say about each pattern (latency floor,
throughput ceiling, compliance eligibility, regions, ...), so changing the architecture
knowledge means editing data, not code. Sizing rules are tiny arithmetic expressions
evaluated by a whitelist evaluator (no `eval`): a catalog file can never run code.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from amp_contracts import CAPABILITIES
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CATALOG_DIR = Path(__file__).resolve().parent
CLOUDS: tuple[str, ...] = ("aws", "gcp", "azure")
#: Regimes a pattern can be declared eligible for.
ELIGIBILITY: tuple[str, ...] = ("hipaa", "pci_dss", "soc2", "iso27001", "fedramp", "gdpr")
ID_RE = re.compile(r"^(aws|gcp|azure):([a-z_]+):([a-z0-9][a-z0-9._-]*)$")

# --------------------------------------------------------------------------- expressions

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: lambda a, b: 0 if b == 0 else a / b,
    ast.FloorDiv: lambda a, b: 0 if b == 0 else a // b,
    ast.Mod: lambda a, b: 0 if b == 0 else a % b,
    ast.Pow: lambda a, b: a ** min(b, 8),
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_FUNCS: dict[str, Callable[..., Any]] = {
    "max": max, "min": min, "ceil": math.ceil, "floor": math.floor, "abs": abs,
    "round": round, "sqrt": lambda x: math.sqrt(max(0.0, x)),
}


class ExpressionError(ValueError):
    """A sizing expression uses syntax or names outside the whitelist."""


@lru_cache(maxsize=4096)
def parse_expression(expr: str) -> ast.Expression:
    """Parse and whitelist-check once; the cached tree is then evaluated many times."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {expr!r}: {exc.msg}") from exc
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS or node.keywords:
                raise ExpressionError(f"{expr!r}: only {sorted(_FUNCS)} may be called")
        elif not isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp,
                                   ast.Name, ast.Constant, ast.Load, ast.USub, ast.UAdd, ast.Not, ast.And,
                                   ast.Or, *_BINOPS, *_CMPOPS)):
            raise ExpressionError(f"{expr!r}: {type(node).__name__} is not allowed")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool)):
            raise ExpressionError(f"{expr!r}: constant {node.value!r} is not allowed")
    return tree


def expression_names(expr: str) -> list[str]:
    """The input names an expression reads (sorted), to state what a sizing is based on."""
    tree = parse_expression(expr)
    return sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in _FUNCS})


def evaluate(expr: str | float, env: dict[str, Any]) -> Any:
    """Evaluate a whitelisted arithmetic expression over `env` (numbers, strings, booleans)."""
    if isinstance(expr, (bool, int, float)):
        return expr
    return _eval(parse_expression(expr).body, env, expr)


def _eval(node: ast.AST, env: dict[str, Any], src: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ExpressionError(f"{src!r}: unknown name {node.id!r}")
        return env[node.id]
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_eval(node.left, env, src), _eval(node.right, env, src))
    if isinstance(node, ast.UnaryOp):
        val = _eval(node.operand, env, src)
        return -val if isinstance(node.op, ast.USub) else (not val) if isinstance(node.op, ast.Not) else +val
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env, src)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, env, src)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        vals = (_eval(v, env, src) for v in node.values)
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, env, src) else node.orelse, env, src)
    if isinstance(node, ast.Call):
        return _FUNCS[node.func.id](*(_eval(a, env, src) for a in node.args))  # type: ignore[attr-defined]
    raise ExpressionError(f"{src!r}: {type(node).__name__} is not allowed")


_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def fmt_number(value: Any) -> str:
    """Human-readable quantity: integers without decimals, others to two places."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        if float(value).is_integer():
            return f"{int(value):,}"
        return f"{value:,.2f}"
    return str(value)


def render(template: str, env: dict[str, Any]) -> str:
    """Fill `{name}` placeholders from `env` (no attribute access, no format specs)."""
    return _PLACEHOLDER.sub(lambda m: fmt_number(env.get(m.group(1), m.group(0))), template)


# --------------------------------------------------------------------------- models

class BomItem(BaseModel):
    """One priced line of a pattern's bill of materials, per region the component runs in."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="Price-book key.")
    unit: str = Field(description="Billing unit; must equal the price book's unit for the key.")
    qty: str | float = Field(description="Expression: units per region per month.")
    label: str = Field(description="Human-readable quantity template, e.g. '{instances} × c5.xlarge × 730 h'.")
    shared: bool = Field(False, description="One per plan and region however many components need it "
                                            "(e.g. a Kubernetes control plane).")


class ModuleInput(BaseModel):
    """One typed input of a pattern's Terraform module; its value is the sizing key of the same name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["number", "string", "bool"] = Field(description="HCL type of the module variable.")
    description: str
    per_env: Literal["same", "count"] = Field("same", description=(
        "`count`: a replica/task count that dev and staging run smaller (prod is the plan); "
        "`same`: every environment uses the planned value (sizes, instance types)."))


class Pattern(BaseModel):
    """One way to realise a capability on one cloud, with the attributes the planner weighs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    service: str
    summary: str
    deployment: Literal["serverless", "containers", "managed"]
    latency_floor_ms: float | None
    throughput_ceiling_rps: float | None
    cold_start: bool | int = Field(description="False, or the typical cold-start penalty in ms.")
    multi_az: bool
    multi_region_capable: bool
    compliance: list[str]
    regions: Literal["all"] | list[str]
    regions_excluded: list[str]
    skills: list[str]
    gpu: bool
    cost_class: Literal["low", "medium", "high"]
    requires_existing: list[str]
    affinity: list[str] = Field(description="Existing tools or preferences this pattern fits well.")
    features: list[str]
    pros: list[str]
    cons: list[str]
    sizing: dict[str, str | int | float]
    bom: list[BomItem]
    module: str | None = Field(None, description=(
        "Template (terraform/<cloud>/modules/<module>.tf) that builds this pattern; None: the generator "
        "has no module for it, so the planner does not choose it."))
    builds: list[str] = Field(default_factory=list, description=(
        "Resource types whose presence shows the module builds what the pattern names (conformance check)."))
    inputs: dict[str, ModuleInput] = Field(default_factory=dict, description=(
        "Typed module inputs; each is a sizing key, passed to the module as a variable of this type. "
        "Sizing keys not listed are usage assumptions (priced, not configured)."))
    asserts: list[str] = Field(default_factory=list, description=(
        "Terraform test conditions on the module's resources, `{input}` replaced by the planned value: "
        "what a plan of the module must show (desired count, sizes, health-check path)."))
    needs: list[str] = Field(default_factory=list, description=(
        "Capabilities the module cannot run without (a Fargate service needs a private network)."))
    consumes: list[str] | None = Field(None, description=(
        "Stream processing only: the services of the ingest streams its module is wired to consume "
        "(an event source mapping, a push subscription); None: no claim."))
    team_code: str | None = Field(None, description=(
        "What the team writes for the built module to do its job, which the repository does not generate "
        "(a stream job's code package, copies from the team's own sources); None: nothing."))

    @field_validator("compliance")
    @classmethod
    def _known_regimes(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in ELIGIBILITY]
        if bad:
            raise ValueError(f"unknown compliance regimes {bad}")
        return v

    @model_validator(mode="after")
    def _id_shape(self) -> Pattern:
        m = ID_RE.match(self.id)
        if not m or m.group(2) not in CAPABILITIES:
            raise ValueError(f"pattern id {self.id!r} is not <cloud>:<capability>:<name>")
        missing = sorted(set(self.inputs) - set(self.sizing))
        if missing:
            raise ValueError(f"{self.id}: module inputs {missing} are not sizing keys")
        if self.inputs and self.module is None:
            raise ValueError(f"{self.id}: declares module inputs but no module")
        bad_needs = [n for n in self.needs if n not in CAPABILITIES]
        if bad_needs:
            raise ValueError(f"{self.id}: unknown needed capabilities {bad_needs}")
        for expr in [*self.sizing.values(), *(b.qty for b in self.bom)]:
            if isinstance(expr, str):
                parse_expression(expr)
        return self

    @property
    def cloud(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def capability(self) -> str:
        return self.id.split(":")[1]

    @property
    def buildable(self) -> bool:
        return self.module is not None

    @property
    def cold_start_ms(self) -> int:
        return 0 if self.cold_start is False else 1000 if self.cold_start is True else int(self.cold_start)

    def available_in(self, region: str) -> bool:
        """A pattern listed for 'all' regions runs in any region but its exclusions."""
        if region in self.regions_excluded:
            return False
        return self.regions == "all" or region in self.regions


class Region(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: str
    geo: str = Field(description="Jurisdiction: eea, uk, ch, us, us-gov, ca, jp, ...")


class SizingInput(BaseModel):
    """A sizing input read from one constraint field, with the default used when unstated."""

    model_config = ConfigDict(extra="forbid")

    field: str
    default: Any
    map: dict[str, float] | None = None
    cap: float | None = None
    note: str = ""


class Sizing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, SizingInput]
    derived: dict[str, str | float | int]


class Meta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    catalog_version: str
    default_cloud: Literal["aws", "gcp", "azure"]
    implied_by_existing: dict[str, list[str]]
    implied_by_preference: dict[str, list[str]]
    compute_capabilities: list[str]
    preferred_features: dict[str, list[str]]
    sizing: Sizing


class Catalog(BaseModel):
    """All patterns of one cloud, plus the regions the catalog knows for it."""

    model_config = ConfigDict(extra="forbid")

    cloud: Literal["aws", "gcp", "azure"]
    default_region: str
    gdpr_default_region: str
    regions: list[Region]
    patterns: list[Pattern]

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        ids = [p.id for p in self.patterns]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate pattern ids {dup}")
        wrong = [p.id for p in self.patterns if p.cloud != self.cloud]
        if wrong:
            raise ValueError(f"patterns of another cloud in {self.cloud}.yaml: {wrong}")
        return self

    def for_capability(self, capability: str) -> list[Pattern]:
        return sorted((p for p in self.patterns if p.capability == capability), key=lambda p: p.id)

    def pattern(self, pattern_id: str) -> Pattern | None:
        return self._index().get(pattern_id)

    def region(self, code: str) -> Region | None:
        return next((r for r in self.regions if r.code == code), None)

    def region_codes(self) -> list[str]:
        return [r.code for r in self.regions]

    def _index(self) -> dict[str, Pattern]:
        idx = self.__dict__.get("_idx")
        if idx is None:
            idx = {p.id: p for p in self.patterns}
            self.__dict__["_idx"] = idx
        return idx


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(name: str) -> Any:
    with (CATALOG_DIR / name).open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)


@lru_cache(maxsize=1)
def load_meta() -> Meta:
    return Meta.model_validate(_read("meta.yaml"))


@lru_cache(maxsize=8)
def load_catalog(cloud: str) -> Catalog:
    """Load, merge file-level defaults into each pattern, validate, and cache one cloud's catalog."""
    if cloud not in CLOUDS:
        raise ValueError(f"unknown cloud {cloud!r}; expected one of {CLOUDS}")
    raw = _read(f"{cloud}.yaml")
    defaults = raw.pop("defaults", {}) or {}
    raw.pop("anchors", None)
    raw["patterns"] = [{**defaults, **p} for p in raw.get("patterns", [])]
    return Catalog.model_validate(raw)


def catalog_version() -> str:
    return load_meta().catalog_version


@lru_cache(maxsize=1)
def region_index() -> dict[str, tuple[str, Region]]:
    """Every region code the catalog knows, to its cloud and description."""
    out: dict[str, tuple[str, Region]] = {}
    for cloud in CLOUDS:
        for r in load_catalog(cloud).regions:
            out.setdefault(r.code, (cloud, r))
    return out


def region_geo(code: str) -> str | None:
    hit = region_index().get(code)
    return hit[1].geo if hit else None
