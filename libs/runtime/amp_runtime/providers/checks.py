"""Checks every model answer may need, beyond its schema: the error that asks for a correction.

A failed check raises `OutputRejected`, whose message goes back to the model verbatim for a
corrected answer; `explain` words a schema failure the same way.
"""

from __future__ import annotations

from amp_contracts import ConstraintSchema
from amp_domain.catalog import region_index
from pydantic import ValidationError

from .base import RegionAllowed


class OutputRejected(ValueError):
    """An answer that parsed but breaks a rule the schema cannot express."""


def default_region_allowed(cloud: str | None, region: str) -> bool:
    """A region code of the catalog, on the given cloud when one is given."""
    hit = region_index().get(region)
    return hit is not None and (cloud is None or hit[0] == cloud)


def check_regions(constraints: ConstraintSchema, allowed: RegionAllowed | None) -> None:
    allowed = allowed or default_region_allowed
    bad = [r for r in constraints.regions if not allowed(constraints.cloud, r)]
    if bad:
        where = f" for cloud {constraints.cloud}" if constraints.cloud else ""
        raise OutputRejected(f"regions {bad} are not known region codes{where}; use only catalog region codes "
                             "(e.g. eu-west-1, europe-west4, westeurope) or leave regions empty")


def explain(error: Exception) -> str:
    """A validation failure in words a model (and a person) can act on."""
    if isinstance(error, ValidationError):
        lines = []
        for err in error.errors()[:20]:
            loc = ".".join(str(p) for p in err.get("loc", ())) or "(root)"
            lines.append(f"- {loc}: {err.get('msg')}")
        return "The answer does not match the schema:\n" + "\n".join(lines)
    return f"The answer breaks a rule: {error}"
