"""What people read instead of identifiers: field, capability and pattern names, values in words.

Reason Card summaries, the CLI and the web page say "Online serving: Amazon ECS on Fargate" and
"Regions: eu-west-1 → eu-central-1", never a Python dict or a bare catalog id; the ids stay in
the structured fields (and on hover, and in --json) for whoever needs them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from amp_contracts import CAPABILITY_LABELS, FIELD_LABELS

from .catalog import CLOUDS, load_catalog


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name.replace("_", " "))


def capability_label(capability: str) -> str:
    return CAPABILITY_LABELS.get(capability, capability.replace("_", " "))


@cache
def pattern_names() -> dict[str, str]:
    """Every catalog pattern id → its name."""
    return {p.id: p.name for cloud in CLOUDS for p in load_catalog(cloud).patterns}


def pattern_label(pattern_id: str) -> str:
    return pattern_names().get(pattern_id, pattern_id)


def value_text(value: Any) -> str:
    """A value as a person writes it: lists joined, booleans as yes/no, numbers without a trailing .0."""
    if value is None or value == [] or value == "":
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{field_label(str(k))}: {value_text(v)}" for k, v in value.items())
    return str(value)


def changes_text(before: dict[str, Any], after: dict[str, Any]) -> str:
    """`Regions: eu-west-1 → eu-central-1; Monthly budget (USD): 6000 → 4000` for the fields that differ."""
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    return "; ".join(f"{field_label(k)}: {value_text(before.get(k))} → {value_text(after.get(k))}" for k in keys)
