"""The codegen service's questions to a model: what a reviewer's comment changes, and the code of the seams.

A comment becomes a constraint patch (the rules' answer is the requirements grammar's
`extract_patch`); seams get code that must parse and keep to an allowlist of imports and calls (`codecheck`) (the rules' answer is each seam's
template default, and code is never written by the rules when the models are down).
"""

from __future__ import annotations

from typing import Any

from amp_contracts import ConstraintSchema
from amp_contracts.constraints import ConstraintField
from amp_domain.requirements.extraction import extract_patch
from amp_runtime.providers import Ask, OutputRejected, RegionAllowed, as_json, check_regions, quoted
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .codecheck import check_code, local_packages

COMMENT = "approval_feedback"
SEAMS = "codegen"


class Seam(BaseModel):
    """A place in a template where model-written code goes; `default` is the template's own body."""

    id: str
    path: str
    language: str = "python"
    instructions: str = ""
    signature: str = ""
    default: str = ""


class CommentPatchOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    set: ConstraintSchema = Field(default_factory=ConstraintSchema,
                                  description="Fields the comment changes, with their complete new values.")
    clear: list[ConstraintField] = Field(default_factory=list,  # type: ignore[valid-type]
                                         description="Fields the comment removes entirely.")


class SeamFill(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seam_id: str
    code: str


class SeamFillsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fills: list[SeamFill]


def check_patch(out: CommentPatchOut, current: ConstraintSchema, allowed: RegionAllowed | None) -> dict[str, Any]:
    """The fields a comment changes, in the shape of the intake's `extract_patch`."""
    check_regions(ConstraintSchema(cloud=out.set.cloud or current.cloud, regions=out.set.regions), allowed)
    both = sorted(set(out.clear) & set(out.set.stated()))
    if both:
        raise OutputRejected(f"{', '.join(both)} both set and cleared; do one or the other")
    now = current.model_dump(mode="json")
    blank = ConstraintSchema().model_dump(mode="json")
    patch: dict[str, Any] = {k: v for k, v in out.set.stated().items() if now.get(k) != v}
    patch.update({k: blank[k] for k in out.clear if now.get(k) != blank[k]})
    try:
        ConstraintSchema.model_validate({**now, **patch})
    except ValidationError as e:
        raise OutputRejected(f"the patched constraints are invalid: {e}") from e
    return patch


def check_seams(out: SeamFillsOut, seams: list[Seam]) -> dict[str, str]:
    wanted = {s.id: s for s in seams}
    got = [f.seam_id for f in out.fills]
    problems: list[str] = []
    if sorted(got) != sorted(wanted):
        problems.append(f"fill exactly the seams {sorted(wanted)} once each; got {got}")
    local = local_packages(s.path for s in seams)
    for f in out.fills:
        seam = wanted.get(f.seam_id)
        if seam is None or seam.language != "python":
            continue
        # Parsed, then held to the allowlist (no os, subprocess, sockets, eval…): see codecheck.
        problems += [f"seam {f.seam_id!r}: {p}" for p in check_code(f.code, path=seam.path, local_packages=local)]
    if problems:
        raise OutputRejected("; ".join(problems))
    return {f.seam_id: f.code for f in out.fills}


def read_comment(comment: str, current: ConstraintSchema,
                 region_allowed: RegionAllowed | None = None) -> Ask[dict[str, Any]]:
    prompt = f"Current constraints: {as_json(current.stated())}\n" + quoted("Reviewer comment", comment)
    return Ask(call=COMMENT, output=CommentPatchOut, prompt=prompt,
               check=lambda out: check_patch(out, current, region_allowed),
               rules=lambda: dict(extract_patch(comment, current)) if comment else {})


def fill_seams(seams: list[Seam], context: dict[str, Any]) -> Ask[dict[str, str]]:
    listing = "\n\n".join(f"Seam {s.id} in {s.path} ({s.language})\nSignature: {s.signature or '-'}\n"
                           f"Instructions: {s.instructions or '-'}\nTemplate default:\n{s.default}" for s in seams)
    return Ask(call=SEAMS, output=SeamFillsOut, prompt=f"Context: {as_json(context)}\n\nSeams to fill:\n\n{listing}",
               check=lambda out: check_seams(out, seams), rules=lambda: {s.id: s.default for s in seams})
