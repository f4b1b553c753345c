"""`python -m bench.validation [--rounds 2] [--workers 4] [--per-tool] [--next-version]`: what
validating a new project's tree (and its next version's) costs, without the platform around it.

The artifact round trip is the validators' tools sharing two cores, so its floor is their CPU.
Each scenario text is planned and rendered with the platform's own code (a new project name each
time, as a new project has), then validated in this process the way the validators service does
(`validate_tree`, Terraform included). Reported: wall and whole-machine CPU (`/proc/stat`, so the
tools' processes count) per validation, by text; with `--per-tool`, each check on its own, less
the secret scan that always runs; with `--next-version`, each project's next version from the
same text, validated after its first (the verdicts of unchanged inputs are reused). Every text's
tree is validated once first, as a validators process that has seen it would have (tool
environments, warm workers, caches).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from amp_domain.requirements.extraction import extract

from services.codegen.render import render_repository
from services.critics.cost import estimate
from services.planner.planning import compose_plan
from services.policy.engine import evaluate
from services.validators.checks import validate_tree
from services.validators.checks.runner import ALWAYS, CHECK_NAMES

from .common import scenario_texts
from .memory import machine_cpu_s


def render(text: str, project_name: str) -> dict[str, str]:
    """The tree the codegen service would make for this text (no answers, no user edits)."""
    constraints = extract(text).constraints
    plan = compose_plan(constraints)
    cost = estimate(plan, constraints)
    return render_repository(plan, constraints, cost, evaluate(constraints, plan, cost), [], [], project_name,
                             requirements=text)


def _timed(validate: Callable[[], Any]) -> tuple[float, float, Any]:
    cpu, wall = machine_cpu_s(), time.perf_counter()
    report = validate()
    return time.perf_counter() - wall, machine_cpu_s() - cpu, report


def next_version(files: dict[str, str]) -> dict[str, str]:
    """The tree of the project's next version from the same text: the same code, infrastructure and
    workflows, another decision record (the platform rewrites the plan and the reports)."""
    return {**files, "plan.md": files.get("plan.md", "") + "\n<!-- the next version -->\n"}


def measure(texts: list[dict[str, str]], rounds: int, workers: int = 4,
            checks: list[str] | None = None, again: bool = False) -> dict[str, Any]:
    """Validations of new projects' trees (with `again`, of their next versions, each after its
    first version, untimed): wall and CPU, in all and by text, and each tool's duration."""
    for i, sc in enumerate(texts):
        validate_tree(render(sc["text"], f"warm-{i}"), terraform=True, max_workers=workers, checks=checks)
    runs: list[tuple[str, float, float]] = []  # (text id, wall s, CPU s)
    tools: dict[str, list[int]] = {}
    for r in range(rounds):
        for i, sc in enumerate(texts):
            files = render(sc["text"], f"bench-{r}-{i}")
            if again:
                validate_tree(files, terraform=True, max_workers=workers, checks=checks)
                files = next_version(files)
            wall, cpu, report = _timed(lambda files=files: validate_tree(
                files, terraform=True, max_workers=workers, checks=checks))
            runs.append((sc["id"], wall, cpu))
            for tool in report.tools:
                tools.setdefault(tool.tool, []).append(tool.duration_ms or 0)
    walls = [wall for _, wall, _ in runs]
    cpus = [cpu for _, _, cpu in runs]
    return {
        "validations": len(runs), "workers": workers,
        "wall_s": {"p50": round(statistics.median(walls), 3), "max": round(max(walls), 3),
                   "mean": round(statistics.fmean(walls), 3)},
        "cpu_s": {"p50": round(statistics.median(cpus), 3), "mean": round(statistics.fmean(cpus), 3)},
        "by_text": {sc["id"]: {"wall_s": round(statistics.fmean(w for t, w, _ in runs if t == sc["id"]), 3),
                               "cpu_s": round(statistics.fmean(c for t, _, c in runs if t == sc["id"]), 3)}
                    for sc in texts},
        "tool_ms_p50": {k: statistics.median(v) for k, v in tools.items()},
    }


def _mean_cpu_alone(texts: list[dict[str, str]], name: str) -> float:
    """Mean CPU seconds of validating the texts' new trees with only `name` (and the scan that always runs)."""
    trees = [render(sc["text"], f"{name}-{i}") for i, sc in enumerate(texts)]
    return statistics.fmean(_timed(lambda files=files: validate_tree(files, terraform=True, checks=[name]))[1]
                            for files in trees)


def per_tool(texts: list[dict[str, str]], names: list[str] | None = None) -> dict[str, float]:
    """Mean CPU seconds of each check run alone over the texts' new trees, less the scan that always runs."""
    out = {name: round(_mean_cpu_alone(texts, name), 3) for name in ALWAYS}
    base = sum(out.values())
    for name in names or CHECK_NAMES:
        if name not in out:
            out[name] = round(max(0.0, _mean_cpu_alone(texts, name) - base), 3)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.validation", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2, help="validations of each text (each a new project)")
    p.add_argument("--workers", type=int, default=4, help="the check pool's threads")
    p.add_argument("--per-tool", action="store_true", help="also each check on its own")
    p.add_argument("--next-version", action="store_true",
                   help="also each project's next version from the same text (validated after its first)")
    args = p.parse_args(argv)
    texts = scenario_texts()
    out: dict[str, Any] = {"together": measure(texts, args.rounds, args.workers)}
    if args.next_version:
        out["next_version"] = measure(texts, args.rounds, args.workers, again=True)
    if args.per_tool:
        out["alone_cpu_s"] = per_tool(texts)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
