"""A generated repository as the platform's chain makes it from a requirements text, for tests
that need a real tree: extraction, plan, cost, policy, rendering (no answers, no user edits)."""

from __future__ import annotations

from amp_domain.requirements.extraction import extract

from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.policy.engine import evaluate


def generated_tree(text: str, project_name: str) -> dict[str, str]:
    constraints = extract(text).constraints
    plan = compose_plan(constraints)
    cost = estimate(plan, constraints)
    return render_repository(plan, constraints, cost, evaluate(constraints, plan, cost), [], [], project_name)
