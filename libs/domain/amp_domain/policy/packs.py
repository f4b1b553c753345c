"""Rule packs: the shape every rule must have, and the built-in pack (`rules.yaml`).

The gateway validates a project's pack when it is uploaded and the policy agent validates the
pack it evaluates, with the same function; a pack adds rules, it never redefines a built-in one.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from amp_contracts import ValidationFailed

from .jsonlogic import check_logic

RULES_PATH = Path(__file__).resolve().parent / "rules.yaml"
ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
STATUSES = ("pass", "warn", "fail")
RULE_KEYS = {"id", "control", "applies", "not_applicable", "cases", "otherwise", "description"}
CASE_KEYS = {"when", "status", "detail", "requires_review", "control"}


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
            check_logic(rule["applies"], f"{where}.applies", errors)
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
            check_logic(case["when"], f"{where}.when", errors)
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
