"""The policy engine: rules as data (rules.yaml, JSONLogic subset) over typed plan facts.

Rules never see requirement text: the engine builds a context of typed fields from the
constraints, the plan (with catalog attributes of each pattern) and the cost estimate, so
the outcome is deterministic and no prompt can talk a rule out of failing. Project rule
packs add rules of the same shape; waivers accept a failed rule visibly, never silently.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from amp_contracts import (
    ConstraintSchema,
    CostEstimate,
    Plan,
    PolicyResults,
    RuleResult,
    ValidationFailed,
    Waiver,
    overall_of,
)

from services.planner.catalog import ELIGIBILITY, load_catalog, region_geo
from services.planner.planning import SECURITY_CAPS, is_sensitive, required_regimes

RULES_PATH = Path(__file__).resolve().parent / "rules.yaml"
ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
STATUSES = ("pass", "warn", "fail")
RULE_KEYS = {"id", "control", "applies", "not_applicable", "cases", "otherwise", "description"}
CASE_KEYS = {"when", "status", "detail", "requires_review", "control"}

# --------------------------------------------------------------------------- logic

_MISSING = object()


def _var(path: Any, data: Any) -> Any:
    if isinstance(path, list):
        path, default = (path + [None])[:2]
    else:
        default = None
    if path in ("", None):
        return data
    cur = data
    for part in str(path).split("."):
        if isinstance(cur, dict):
            cur = cur.get(part, _MISSING)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            cur = _MISSING
        if cur is _MISSING:
            return default
    return cur


def _cmp(fn: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def op(*args: Any) -> bool:
        if any(a is None for a in args):
            return False
        try:
            return all(fn(a, b) for a, b in itertools.pairwise(args))
        except TypeError:
            return False
    return op


def _arith(fn: Callable[[float, float], float]) -> Callable[..., Any]:
    def op(*args: Any) -> Any:
        if not args or any(not isinstance(a, (int, float)) or isinstance(a, bool) for a in args):
            return None
        out = args[0]
        for b in args[1:]:
            out = fn(out, b)
        return out
    return op


def _truthy(x: Any) -> bool:
    return bool(x) and x != []


def _in(needle: Any, hay: Any) -> bool:
    if isinstance(hay, (list, str)) and needle is not None:
        try:
            return needle in hay
        except TypeError:
            return False
    return False


_SIMPLE: dict[str, Callable[..., Any]] = {
    "==": _cmp(lambda a, b: a == b), "<": _cmp(lambda a, b: a < b), "<=": _cmp(lambda a, b: a <= b),
    ">": _cmp(lambda a, b: a > b), ">=": _cmp(lambda a, b: a >= b),
    "+": _arith(lambda a, b: a + b), "-": _arith(lambda a, b: a - b), "*": _arith(lambda a, b: a * b),
    "/": _arith(lambda a, b: a / b if b else 0),
    "min": lambda *a: min((x for x in a if x is not None), default=None),
    "max": lambda *a: max((x for x in a if x is not None), default=None),
    "!": lambda a=None: not _truthy(a), "!!": lambda a=None: _truthy(a),
    "in": _in, "count": lambda a=None: len(a) if isinstance(a, (list, str, dict)) else 0,
    "merge": lambda *a: [y for x in a for y in (x if isinstance(x, list) else [x])],
}
_LAZY = {"var", "and", "or", "if", "all", "some", "none", "filter", "map", "!="}
OPERATORS: frozenset[str] = frozenset(_SIMPLE) | frozenset(_LAZY)


def apply_logic(logic: Any, data: Any) -> Any:
    """Evaluate a JSONLogic-subset expression; values other than one-key operator dicts are literals."""
    if isinstance(logic, list):
        return [apply_logic(x, data) for x in logic]
    if not isinstance(logic, dict) or len(logic) != 1:
        return logic
    (op, args), = logic.items()
    if op not in OPERATORS:
        return logic
    args = args if isinstance(args, list) else [args]
    if op == "var":
        return _var(apply_logic(args[0], data) if args else "", data) if len(args) <= 1 else \
            _var([apply_logic(args[0], data), apply_logic(args[1], data)], data)
    if op == "!=":
        vals = [apply_logic(a, data) for a in args]
        return len(vals) == 2 and vals[0] != vals[1]
    if op == "and":
        out: Any = True
        for a in args:
            out = apply_logic(a, data)
            if not _truthy(out):
                return out
        return out
    if op == "or":
        out = False
        for a in args:
            out = apply_logic(a, data)
            if _truthy(out):
                return out
        return out
    if op == "if":
        for i in range(0, len(args) - 1, 2):
            if _truthy(apply_logic(args[i], data)):
                return apply_logic(args[i + 1], data)
        return apply_logic(args[-1], data) if len(args) % 2 else None
    items = apply_logic(args[0], data) if args else []
    items = items if isinstance(items, list) else []
    body = args[1] if len(args) > 1 else None
    if op == "all":
        return bool(items) and all(_truthy(apply_logic(body, x)) for x in items)
    if op == "some":
        return any(_truthy(apply_logic(body, x)) for x in items)
    if op == "none":
        return not any(_truthy(apply_logic(body, x)) for x in items)
    if op == "filter":
        return [x for x in items if _truthy(apply_logic(body, x))]
    if op == "map":
        return [apply_logic(body, x) for x in items]
    return _SIMPLE[op](*[apply_logic(a, data) for a in args])


def _check_logic(logic: Any, where: str, errors: list[str]) -> None:
    if isinstance(logic, list):
        for x in logic:
            _check_logic(x, where, errors)
        return
    if isinstance(logic, dict):
        if len(logic) != 1:
            errors.append(f"{where}: an operator object has exactly one key, got {sorted(logic)}")
            return
        (op, args), = logic.items()
        if op not in OPERATORS:
            errors.append(f"{where}: unknown operator {op!r}")
            return
        _check_logic(args, where, errors)
        return
    if not (logic is None or isinstance(logic, (str, int, float, bool))):
        errors.append(f"{where}: unsupported literal {logic!r}")


# --------------------------------------------------------------------------- templates

_FIELD = re.compile(r"\{([A-Za-z_][\w.]*)(?::([^{}]*))?\}")
_SPEC = re.compile(r"^[+\- ]?,?(\.\d+)?[fdg%]?$")


def render_detail(template: str, ctx: dict[str, Any]) -> str:
    """Fill {path} / {path:spec} from the context; only numeric format specs are honoured."""
    def sub(m: re.Match[str]) -> str:
        val = _var(m.group(1), ctx)
        spec = m.group(2)
        if val is None:
            return "n/a"
        if isinstance(val, list):
            return ", ".join(str(v) for v in val) if val else "none"
        if spec and isinstance(val, (int, float)) and not isinstance(val, bool) and _SPEC.match(spec):
            try:
                return format(val, spec)
            except ValueError:
                return str(val)
        if isinstance(val, float):
            return f"{val:g}"
        return str(val)
    return _FIELD.sub(sub, template)


# --------------------------------------------------------------------------- rule packs

def validate_rule_pack(rules: list[dict], reserved: frozenset[str] | None = None) -> list[dict]:
    """Check a project rule pack's shape; raise ValidationFailed listing every problem.

    Pack rules may not reuse a built-in rule id: a pack adds rules, it cannot replace one.
    """
    errors: list[str] = []
    if not isinstance(rules, list):
        raise ValidationFailed("a rule pack is a list of rules", details=[{"error": "not a list"}])
    reserved = builtin_ids() if reserved is None else reserved
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        where = f"rules[{i}]"
        if not isinstance(rule, dict):
            errors.append(f"{where}: a rule is an object")
            continue
        rid = rule.get("id")
        if not isinstance(rid, str) or not ID_RE.match(rid):
            errors.append(f"{where}: id must match {ID_RE.pattern}")
        elif rid in seen:
            errors.append(f"{where}: duplicate id {rid!r}")
        elif rid in reserved:
            errors.append(f"{where}: id {rid!r} is a built-in rule and cannot be redefined")
        else:
            seen.add(rid)
        extra = set(rule) - RULE_KEYS
        if extra:
            errors.append(f"{where}: unknown keys {sorted(extra)}")
        for key in ("control", "not_applicable", "description"):
            if key in rule and not isinstance(rule[key], str):
                errors.append(f"{where}.{key}: must be a string")
        if "applies" in rule:
            _check_logic(rule["applies"], f"{where}.applies", errors)
        cases = rule.get("cases", [])
        if not isinstance(cases, list):
            errors.append(f"{where}.cases: must be a list")
            cases = []
        if not cases and "otherwise" not in rule:
            errors.append(f"{where}: needs cases or otherwise")
        for j, case in enumerate(cases):
            _check_outcome(case, f"{where}.cases[{j}]", errors, needs_when=True)
        if "otherwise" in rule:
            _check_outcome(rule["otherwise"], f"{where}.otherwise", errors, needs_when=False)
    if errors:
        raise ValidationFailed(f"invalid rule pack: {len(errors)} problem(s)", details=[{"error": e} for e in errors])
    return rules


def _check_outcome(case: Any, where: str, errors: list[str], needs_when: bool) -> None:
    if not isinstance(case, dict):
        errors.append(f"{where}: must be an object")
        return
    extra = set(case) - CASE_KEYS
    if extra:
        errors.append(f"{where}: unknown keys {sorted(extra)}")
    if needs_when:
        if "when" not in case:
            errors.append(f"{where}: needs when")
        else:
            _check_logic(case["when"], f"{where}.when", errors)
    if case.get("status") not in STATUSES:
        errors.append(f"{where}.status: one of {list(STATUSES)}")
    if not isinstance(case.get("detail"), str):
        errors.append(f"{where}.detail: must be a string")
    if "requires_review" in case and not isinstance(case["requires_review"], bool):
        errors.append(f"{where}.requires_review: must be a boolean")


@lru_cache(maxsize=1)
def load_rules() -> tuple[dict[str, Any], tuple[dict, ...]]:
    """Built-in params and rules (validated once, cached)."""
    with RULES_PATH.open(encoding="utf-8") as fh:
        raw = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    rules = raw.get("rules", [])
    validate_rule_pack(rules, reserved=frozenset())
    return dict(raw.get("params", {})), tuple(rules)


def builtin_ids() -> frozenset[str]:
    return frozenset(r["id"] for r in load_rules()[1])


# --------------------------------------------------------------------------- context

def build_context(constraints: ConstraintSchema, plan: Plan, cost: CostEstimate,
                  previous_cost: CostEstimate | None, params: dict[str, Any]) -> dict[str, Any]:
    """The typed facts rules read (documented in rules.yaml)."""
    cat = load_catalog(plan.cloud) if plan.cloud in ("aws", "gcp", "azure") else None
    comps = []
    for c in plan.components:
        p = cat.pattern(c.pattern_id) if cat else None
        comps.append({"capability": c.capability, "pattern_id": c.pattern_id, "regions": list(c.regions),
                      "deployment": c.deployment, "compliance": list(p.compliance) if p else [],
                      "multi_az": p.multi_az if p else False, "multi_region_capable": p.multi_region_capable if p else False,
                      "latency_floor_ms": p.latency_floor_ms if p else None})
    caps = [c["capability"] for c in comps]
    component_regions = sorted({r for c in comps for r in c["regions"]})
    allowed = list(constraints.regions) or list(plan.regions)
    adequate = set(params.get("gdpr_adequate_geos", []))
    geos = {r: region_geo(r) for r in component_regions}
    budget = constraints.budget_monthly_usd
    total = cost.monthly_usd

    by_cap = {c["capability"]: c for c in comps}
    path_floor = path_pattern = None
    online = "online" in (constraints.workload_types or ["online"])
    if online and "serving_online" in by_cap:
        path_floor, path_pattern = by_cap["serving_online"]["latency_floor_ms"], by_cap["serving_online"]["pattern_id"]
    elif not online:
        stream = [by_cap[k] for k in ("ingest_stream", "stream_processing") if k in by_cap]
        floors = [s["latency_floor_ms"] for s in stream if s["latency_floor_ms"] is not None]
        if floors:
            path_floor, path_pattern = sum(floors), " + ".join(s["pattern_id"] for s in stream)
    critical = next((by_cap[k] for k in ("serving_online", "stream_processing", "serving_batch") if k in by_cap), None)

    prev = previous_cost.monthly_usd if previous_cost is not None else None
    delta_usd = round(total - prev, 2) if prev is not None else None
    delta_pct = round(100.0 * (total - prev) / prev, 2) if prev else None
    warn_pct = float(params.get("budget_warn_pct", 10))
    return {
        "constraints": constraints.model_dump(mode="json"),
        "params": params,
        "budget": budget,
        "budget_warn_limit": round(budget * (1 + warn_pct / 100), 2) if budget is not None else None,
        "budget_used_pct": round(100.0 * total / budget, 1) if budget else None,
        "cost": {"monthly_usd": total, "low_usd": cost.low_usd, "high_usd": cost.high_usd},
        "previous_cost": prev, "delta_usd": delta_usd, "delta_pct": delta_pct,
        "data_class": constraints.data_classification,
        "sensitive": is_sensitive(constraints),
        "regimes": required_regimes(constraints),
        "plan": {"cloud": plan.cloud, "regions": list(plan.regions), "capabilities": caps, "components": comps},
        "component_count": len(comps),
        "allowed_regions": allowed,
        "component_regions": component_regions,
        "regions_outside": [r for r in component_regions if r not in allowed],
        "missing_controls": [cap for cap in SECURITY_CAPS if cap not in caps],
        "not_eligible": {reg: [c["pattern_id"] for c in comps if reg not in c["compliance"]] for reg in ELIGIBILITY},
        "eea_regions": [r for r in component_regions if geos[r] == "eea"],
        "adequacy_regions": [r for r in component_regions if geos[r] in adequate],
        "non_adequate_regions": [r for r in component_regions if geos[r] != "eea" and geos[r] not in adequate],
        "sla_ms": constraints.sla_latency_ms,
        "path_latency_floor_ms": path_floor, "path_pattern": path_pattern,
        "availability": constraints.availability_target,
        "critical_path_pattern": critical["pattern_id"] if critical else None,
        "critical_path_regions": critical["regions"] if critical else [],
        "single_az_components": [c["pattern_id"] for c in comps if not c["multi_az"]],
    }


# --------------------------------------------------------------------------- evaluation

def run_rule(rule: dict, ctx: dict[str, Any]) -> tuple[RuleResult, bool]:
    """One rule's result and whether it asks for human review."""
    control = rule.get("control", "")
    if "applies" in rule and not _truthy(apply_logic(rule["applies"], ctx)):
        why = render_detail(rule.get("not_applicable", "conditions not met"), ctx)
        return RuleResult(id=rule["id"], status="pass", detail=f"not applicable: {why}", control=control), False
    outcome = next((c for c in rule.get("cases", []) if _truthy(apply_logic(c["when"], ctx))), None)
    if outcome is None:
        outcome = rule.get("otherwise", {"status": "pass", "detail": "no case matched"})
    return (RuleResult(id=rule["id"], status=outcome["status"], detail=render_detail(outcome["detail"], ctx),
                       control=outcome.get("control", control)), bool(outcome.get("requires_review", False)))


def _live(w: Waiver, now: datetime) -> bool:
    if w.expires_at is None:
        return True
    exp = w.expires_at if w.expires_at.tzinfo else w.expires_at.replace(tzinfo=UTC)
    return exp > now


def evaluate(constraints: ConstraintSchema, plan: Plan, cost: CostEstimate,
             previous_cost: CostEstimate | None = None, extra_rules: list[dict] | None = None,
             waivers: list[Waiver] | None = None, now: datetime | None = None) -> PolicyResults:
    """Apply the built-in rules and any project pack; unexpired waivers accept failed rules visibly."""
    params, builtin = load_rules()
    pack = validate_rule_pack(extra_rules) if extra_rules else []
    ctx = build_context(constraints, plan, cost, previous_cost, params)
    now = now or datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    active: dict[str, Waiver] = {}
    for w in sorted(waivers or [], key=lambda w: (w.rule_id, w.by, w.reason)):
        if _live(w, now):
            active.setdefault(w.rule_id, w)
    results: list[RuleResult] = []
    review = False
    for rule in (*builtin, *pack):
        res, wants_review = run_rule(rule, ctx)
        w = active.get(res.id)
        if w is not None and res.status == "fail":
            until = f", until {w.expires_at.isoformat()}" if w.expires_at else ""
            res = res.model_copy(update={"waived": True, "waiver_reason": f"{w.reason} (waived by {w.by}{until})"})
        review = review or (wants_review and not res.waived)
        results.append(res)
    return PolicyResults(rules=results, overall=overall_of(results), requires_review=review)
