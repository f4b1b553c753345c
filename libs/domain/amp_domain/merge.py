"""How a user's edits survive regeneration: a Copier-style three-way merge of file trees.

The previous generation is the common base, the user's edited tree and the new generation are
the two sides, and a line-based three-way merge (diff3 over difflib) resolves files both sides
touched, with conflict markers where they overlap. Pure: trees in, a tree and conflicts out.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from pydantic import BaseModel, Field


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
