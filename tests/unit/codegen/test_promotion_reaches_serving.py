"""A promotion restarts serving onto the approved model on every platform the catalog builds.

Serving also reads approved.json every MODEL_RELOAD_SECONDS, but promote.yml restarts it where the
platform allows, so the model is served at once and the run records which model it serves. Azure
Container Apps' module had no output naming the app, so its promotion only printed a note.
"""

from __future__ import annotations

import pytest
from amp_contracts import ConstraintSchema
from amp_domain.assessment import build_context, size_pattern
from amp_domain.catalog import load_catalog

from services.codegen.render import render_repository
from services.planner.planning import compose_plan
from tests.unit.codegen.conftest import inputs_for

_FALLBACK = "Serving loads the approved model within MODEL_RELOAD_SECONDS"


def _servings() -> list[tuple[str, str]]:
    return [(cloud, p.id) for cloud in ("aws", "gcp", "azure") for p in load_catalog(cloud).patterns
            if p.capability == "serving_online" and p.buildable and not p.requires_existing]


@pytest.mark.parametrize(("cloud", "pattern_id"), _servings())
def test_every_serving_pattern_is_restarted_by_a_promotion(cloud: str, pattern_id: str) -> None:
    c = ConstraintSchema(cloud=cloud, workload_types=["online"], training_cadence="weekly")
    plan = compose_plan(c)
    ctx = build_context(c)
    pattern = load_catalog(cloud).pattern(pattern_id)
    swapped = plan.model_copy(update={"components": [
        x.model_copy(update={"pattern_id": pattern_id, "name": pattern.name, "service": pattern.service,
                             "deployment": pattern.deployment, "sizing": size_pattern(pattern, ctx, x.regions)})
        if x.capability == "serving_online" else x for x in plan.components]})
    files = render_repository(swapped, c, *inputs_for(swapped), "Acme churn", "")
    promote = files[".github/workflows/promote.yml"]
    assert "Roll serving onto the approved model" in promote
    assert _FALLBACK not in promote, pattern_id
