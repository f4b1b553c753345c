"""What changed between two decision-set versions, and how user edits survive regeneration.

`change_summary` composes the Diff Summary from a DeepDiff of the two state objects and a
file-level comparison of the two generated trees. How user edits are carried onto a new
generation is `amp_domain.merge`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from amp_contracts.diff import DiffSummary, ValueChange
from deepdiff import DeepDiff

# Keys that change on every run without meaning anything changed; ignored at any depth.
VOLATILE_KEYS: frozenset[str] = frozenset({
    "ts", "timestamp", "created_at", "updated_at", "generated_at", "started_at", "finished_at", "completed_at",
    "run_id", "trace_id", "span_id", "request_id", "event_id", "thread_id", "checkpoint_id", "idempotency_key",
    "decision_id", "decision_set_id", "parent_decision_set_id", "git_commit", "duration_ms",
})
DOC_SUFFIXES = (".md", ".markdown", ".mdx")
_ROOT_KEY = re.compile(r"""^root\[(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(\d+))\]""")


# ---- state diff -----------------------------------------------------------------------------

def state_diff(prev_state: dict | None, new_state: dict, volatile_keys: frozenset[str] = VOLATILE_KEYS) -> dict:
    """DeepDiff of two state dicts as plain JSON (deepdiff 9: via `to_json`, not `to_dict`)."""
    exclude = [r"\['(?:" + "|".join(map(re.escape, sorted(volatile_keys))) + r")'\]"] if volatile_keys else []
    # threshold_to_diff_deeper=0: never collapse a mostly-different dict into one root change.
    dd = DeepDiff(prev_state or {}, new_state, ignore_order=True, ignore_numeric_type_changes=True,
                  exclude_regex_paths=exclude, verbose_level=1, threshold_to_diff_deeper=0)
    return json.loads(dd.to_json())


def _paths(report_part: Any) -> list[str]:
    if isinstance(report_part, dict):
        return list(report_part)
    if isinstance(report_part, list):
        return [p for p in report_part if isinstance(p, str)]
    return []


def changed_root_keys(diff: dict) -> list[str]:
    """The top-level state keys any change in a serialised DeepDiff touches, sorted."""
    keys: set[str] = set()
    for part in diff.values():
        for path in _paths(part):
            if m := _ROOT_KEY.match(path):
                keys.add(next(g for g in m.groups() if g is not None))
    return sorted(keys)


def _monthly_usd(state: dict | None) -> float | None:
    cost = (state or {}).get("cost")
    value = cost.get("monthly_usd") if isinstance(cost, dict) else getattr(cost, "monthly_usd", None)
    return float(value) if isinstance(value, int | float) else None


def _stated(constraints: Any) -> dict[str, Any]:
    if not isinstance(constraints, dict):
        return {}
    return {k: v for k, v in constraints.items() if v not in (None, [], "")}


def constraint_changes(prev_state: dict | None, new_state: dict) -> list[ValueChange]:
    before, after = _stated((prev_state or {}).get("constraints")), _stated(new_state.get("constraints"))
    return [ValueChange(key=k, before=before.get(k), after=after.get(k))
            for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]


def _patterns(state: dict | None) -> dict[str, str]:
    plan = (state or {}).get("plan")
    comps = plan.get("components") if isinstance(plan, dict) else None
    return {c["capability"]: c["pattern_id"] for c in comps or [] if isinstance(c, dict) and "capability" in c}


def component_changes(prev_state: dict | None, new_state: dict) -> list[ValueChange]:
    if prev_state is None:
        return []
    before, after = _patterns(prev_state), _patterns(new_state)
    return [ValueChange(key=k, before=before.get(k), after=after.get(k))
            for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]


# ---- file diff ------------------------------------------------------------------------------

def change_summary(prev_state: dict | None, new_state: dict, prev_files: dict[str, str] | None,
                   new_files: dict[str, str], git_commit: str, parent_decision_set_id: str | None,
                   prev_prompt_pack: str | None = None, new_prompt_pack: str | None = None,
                   merge_conflicts: list[str] | None = None) -> DiffSummary:
    """The composite Change Summary of one version against its parent."""
    old = prev_files or {}
    added = sorted(set(new_files) - set(old))
    removed = sorted(set(old) - set(new_files))
    modified = sorted(p for p in set(old) & set(new_files) if old[p] != new_files[p])
    docs = sorted(p for p in (*added, *removed, *modified) if p.lower().endswith(DOC_SUFFIXES))
    prev_cost, new_cost = _monthly_usd(prev_state), _monthly_usd(new_state)
    delta = round(new_cost - prev_cost, 2) if prev_cost is not None and new_cost is not None else None
    pack_change = None
    if prev_prompt_pack != new_prompt_pack and (prev_prompt_pack or new_prompt_pack):
        pack_change = f"{prev_prompt_pack or 'none'} → {new_prompt_pack or 'none'}"
    return DiffSummary(
        parent_decision_set_id=parent_decision_set_id,
        docs_changed=docs,
        files_added=len(added), files_removed=len(removed), files_modified=len(modified),
        paths_added=added, paths_removed=removed, paths_modified=modified,
        cost_delta_usd=delta,
        state_keys_changed=changed_root_keys(state_diff(prev_state, new_state)),
        constraint_changes=constraint_changes(prev_state, new_state) if prev_state is not None else [],
        component_changes=component_changes(prev_state, new_state),
        git_commit=git_commit,
        prompt_pack_change=pack_change,
        merge_conflicts=sorted(merge_conflicts or []),
    )
