"""What changed between two decision-set versions, and how user edits survive regeneration.

`change_summary` composes the §22.2 Diff Summary from a DeepDiff of the two state objects and
a file-level comparison of the two generated trees. `merge_user_edits` is the Copier-style
update: the previous generation is the common base, the user's edited tree and the new
generation are the two sides, and a line-based three-way merge (diff3 over difflib) resolves
files both sides touched, with conflict markers where they overlap.
"""

from __future__ import annotations

import json
import re
from difflib import SequenceMatcher
from typing import Any

from amp_contracts.diff import DiffSummary
from deepdiff import DeepDiff
from pydantic import BaseModel, Field

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


# ---- file diff ------------------------------------------------------------------------------

def change_summary(prev_state: dict | None, new_state: dict, prev_files: dict[str, str] | None,
                   new_files: dict[str, str], git_commit: str, parent_decision_set_id: str | None,
                   prev_prompt_pack: str | None = None, new_prompt_pack: str | None = None,
                   merge_conflicts: list[str] | None = None) -> DiffSummary:
    """The composite Change Summary of one version against its parent (§21.7, §22.2)."""
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
        git_commit=git_commit,
        prompt_pack_change=pack_change,
        merge_conflicts=sorted(merge_conflicts or []),
    )


# ---- three-way merge ------------------------------------------------------------------------

class MergeResult(BaseModel):
    files: dict[str, str] = Field(default_factory=dict)
    conflicts: list[str] = Field(default_factory=list)


MARK_USER = "<<<<<<< user edit"
MARK_BASE = "||||||| previous generation"
MARK_SEP = "======="
MARK_GEN = ">>>>>>> new generation"


def _sync_regions(base: list[str], a: list[str], b: list[str]) -> list[tuple[int, int, int, int, int, int]]:
    """Regions where base, a and b all agree: (base_start, base_end, a_start, a_end, b_start, b_end)."""
    ma = SequenceMatcher(None, base, a, autojunk=False).get_matching_blocks()
    mb = SequenceMatcher(None, base, b, autojunk=False).get_matching_blocks()
    regions = []
    ia = ib = 0
    while ia < len(ma) and ib < len(mb):
        abase, amatch, alen = ma[ia]
        bbase, bmatch, blen = mb[ib]
        start, end = max(abase, bbase), min(abase + alen, bbase + blen)
        if start < end:
            asub, bsub = amatch + (start - abase), bmatch + (start - bbase)
            regions.append((start, end, asub, asub + (end - start), bsub, bsub + (end - start)))
        if abase + alen < bbase + blen:
            ia += 1
        else:
            ib += 1
    regions.append((len(base), len(base), len(a), len(a), len(b), len(b)))
    return regions


def _terminated(lines: list[str]) -> list[str]:
    return [*lines[:-1], lines[-1] + "\n"] if lines and not lines[-1].endswith("\n") else lines


def merge3_text(base: str, user: str, generated: str) -> tuple[str, bool]:
    """Line-based diff3 merge; returns (text, had_conflict). Overlaps get diff3-style markers."""
    b, u, g = (s.splitlines(keepends=True) for s in (base, user, generated))
    out: list[str] = []
    conflict = False
    iz = iu = ig = 0
    for zs, ze, us, ue, gs, ge in _sync_regions(b, u, g):
        chunk_b, chunk_u, chunk_g = b[iz:zs], u[iu:us], g[ig:gs]
        if chunk_u or chunk_g:
            if chunk_u == chunk_g or chunk_g == chunk_b:
                out += chunk_u
            elif chunk_u == chunk_b:
                out += chunk_g
            else:
                conflict = True
                out += [MARK_USER + "\n", *_terminated(chunk_u), MARK_BASE + "\n", *_terminated(chunk_b),
                        MARK_SEP + "\n", *_terminated(chunk_g), MARK_GEN + "\n"]
        out += b[zs:ze]
        iz, iu, ig = ze, ue, ge
    return "".join(out), conflict


def merge_user_edits(base: dict[str, str], ours_generated: dict[str, str],
                     theirs_user: dict[str, str]) -> MergeResult:
    """Carry the user's edits onto a new generation (`base` = the previous generation).

    Per file: only the user changed it (edit, add or delete) → the user's version; only the
    generator changed it → the new generation; both → line merge, conflicts listed. A file the
    user deleted stays deleted unless the generator changed it; a file the generator dropped
    but the user edited is kept, since removing it would lose the user's work.
    """
    files: dict[str, str] = {}
    conflicts: list[str] = []
    for path in sorted(set(base) | set(ours_generated) | set(theirs_user)):
        b, gen, user = base.get(path), ours_generated.get(path), theirs_user.get(path)
        if user == gen or gen == b:
            chosen = user
        elif user == b:
            chosen = gen
        elif user is None or gen is None:
            chosen = gen if user is None else user
        else:
            chosen, had_conflict = merge3_text(b or "", user, gen)
            if had_conflict:
                conflicts.append(path)
        if chosen is not None:
            files[path] = chosen
    return MergeResult(files=files, conflicts=conflicts)
