"""The large shape of the code: one-way dependencies, the pipeline written down once, imports at the top.

Dependencies point one way (contracts ← domain ← runtime ← services ← CLI) and no service imports
another: import-linter holds the contracts in pyproject.toml. The pipeline table is the only
place the order lives: every subgraph node a service builds is named in its rows, every row's
subjects have payloads, every service of the table has an app.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from amp_contracts import AGENTS, MODEL_CALLS, NODES, PAYLOADS, PIPELINE, STAGES, Subjects, steps_of

ROOT = Path(__file__).resolve().parents[2]
CODE = [p for base in ("libs", "services") for p in (ROOT / base).rglob("*.py")
        if "templates" not in p.parts and "migrations" not in p.parts]


def test_import_contracts_hold() -> None:
    """import-linter: the layers and the independence of services (pyproject.toml)."""
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout


def test_contracts_need_nothing_but_pydantic() -> None:
    """Outside subscribers install amp-contracts alone: importing it loads the standard library and pydantic only."""
    probe = ("import sys, amp_contracts\n"
             "std = set(sys.stdlib_module_names)\n"
             "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules} - std)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    third_party = {m for m in out.stdout.split() if not m.startswith("_")} - {"amp_contracts"}
    assert third_party <= {"pydantic", "pydantic_core", "typing_extensions", "annotated_types",
                           "typing_inspection"}, sorted(third_party)


def _lazy_imports_without_reason() -> list[str]:
    bad = []
    for path in CODE:
        src = path.read_text(encoding="utf-8")
        lines = src.splitlines()
        for node in ast.walk(ast.parse(src)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    i = sub.lineno - 2  # the line above the import, skipping the rest of its group
                    while i >= 0 and lines[i].strip().startswith(("import ", "from ", ")")):
                        i -= 1
                    if not lines[i].strip().startswith("# lazy:"):
                        bad.append(f"{path.relative_to(ROOT)}:{sub.lineno}")
    return bad


def test_imports_inside_functions_say_why() -> None:
    """An import inside a function is there for a reason, written on the line above it (`# lazy: why`)."""
    assert _lazy_imports_without_reason() == []


def _graph_nodes(service: str) -> set[str]:
    graph = importlib.import_module(f"services.{service}.graph")
    builder_args = {"validators": (None,)}.get(service, ())
    compiled = graph.build_graph(*builder_args) if builder_args else graph.build_graph()
    return {n for n in compiled.get_graph().nodes if not n.startswith("__")}


@pytest.mark.parametrize("service", AGENTS)
def test_every_node_a_service_builds_is_in_its_pipeline_rows(service: str) -> None:
    runs = {n for step in steps_of(service) for n in step.runs}
    assert _graph_nodes(service) <= runs, f"add the node to the {service} rows of amp_contracts.pipeline.PIPELINE"


def test_pipeline_rows_are_consistent() -> None:
    names = {n.name for n in NODES}
    stages = {s.name for s in STAGES}
    assert all(n.stage in stages for n in NODES)
    subjects = [step.subject for step in PIPELINE]
    assert len(subjects) == len(set(subjects)), "a subject is consumed by one service"
    for step in PIPELINE:
        assert step.subject in PAYLOADS and all(s in PAYLOADS for s in (*step.publishes, *step.waits_for))
        assert step.node in names and set(step.runs) <= names, step
        assert (ROOT / "services" / step.service / "app.py").is_file()
    assert {m.service for m in MODEL_CALLS} <= set(AGENTS)
    # the chain reaches run.completed from intake.requested (through the pauses a person continues)
    reach, frontier = set(), {Subjects.INTAKE_REQUESTED}
    while frontier:
        reach |= frontier
        frontier = {s for step in PIPELINE if step.subject in frontier for s in (*step.publishes, *step.waits_for)}
        frontier -= reach
    assert Subjects.RUN_COMPLETED in reach


def test_services_subscribe_to_their_pipeline_rows() -> None:
    from amp_runtime.settings import Settings
    from faststream.nats import NatsBroker

    for service in AGENTS:
        app = importlib.import_module(f"services.{service}.app").create_app(Settings(nats_url="nats://127.0.0.1:1"))
        broker: NatsBroker = app.broker
        subscribed = {str(sub._resolved_subject_string) for sub in broker.subscribers}
        assert subscribed == {s.subject for s in steps_of(service)}, service



@pytest.mark.parametrize("service", AGENTS)
def test_every_pipeline_row_of_a_service_has_a_handler(service: str) -> None:
    """A row without a handler would be redelivered until it dead-letters: each app's `HANDLERS`
    (what `routes` binds) has exactly the subjects of the service's rows."""
    handlers = importlib.import_module(f"services.{service}.app").HANDLERS
    assert set(handlers) == {s.subject for s in steps_of(service)}, service
