"""The validators service: generated trees in; the validated, committed, zipped version out.

amp.codegen.completed ──▶ validators ──▶ rationale_compile ──▶ diff_and_persist
                          ──▶ diff-update, run-complete (stream) and amp.run.completed (bus)
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from amp_contracts import CodegenCompleted, DiffSummary, Envelope, ReasonCard, RunComplete, RunCompleted, Subjects
from amp_runtime.agent import Deps, Route, agent_app, bind
from amp_runtime.artifacts import artifact_key
from amp_runtime.graphs import run_graph
from amp_runtime.reader import Reader
from amp_runtime.settings import Settings
from amp_runtime.step import Outcome, StepResult
from faststream import FastStream

from .graph import build_graph
from .nodes import PersistDeps
from .toolenv import ACTIONLINT, CHECKOV, MYPY, SHELLCHECK, ToolUnavailable, ensure_tool

SERVICE = "validators"
log = logging.getLogger("amp.validators")


def plain(row: dict) -> dict:
    """A database row as JSON values (the checkpoint stores plain data)."""
    return json.loads(json.dumps(row, default=str))


def warm_tools(checkov: bool) -> threading.Thread:
    """Create the isolated tool environments once, in the background (as pre-commit does), so a
    run never waits for an install: until they are ready their checks report `skipped`."""
    def install() -> None:
        for spec in (ACTIONLINT, SHELLCHECK, MYPY, *((CHECKOV,) if checkov else ())):
            try:
                ensure_tool(spec)
            except ToolUnavailable as e:
                log.warning("%s unavailable: %s", spec.name, e.reason)

    t = threading.Thread(target=install, name="amp-tool-envs", daemon=True)
    t.start()
    return t


@dataclass
class Validators:
    """What the validators' handler needs."""

    graph: Any
    db: Reader
    packs_fingerprint: str


async def on_generated(svc: Validators, env: Envelope[CodegenCompleted], key: str) -> StepResult:
    ds = await svc.db.decision_set(env.decision_set_id, project_id=env.project_id)
    parent = await svc.db.find_decision_set(ds["parent_id"]) if ds.get("parent_id") else None
    prior = [ReasonCard.model_validate(c) for c in await svc.db.reason_cards(env.decision_set_id, project_id=env.project_id)]
    run = await run_graph(svc.graph, env.decision_set_id, SERVICE, {
        "project_id": env.project_id, "decision_set_id": env.decision_set_id, "version": ds["version"],
        "tree_key": env.payload.tree_key, "state_doc": plain(ds), "parent": plain(parent) if parent else None,
        "cards_so_far": prior, "started_at": env.ts, "user_id": env.user_id, "reports": {}}, step=key)
    v = run.values
    diff: DiffSummary = v["diff"]
    # A repository that fails its validation is kept (committed, downloadable, its report says why) but
    # the version ends `failed`: it is never reported as completed and validated.
    status = "completed" if (v.get("validation") or {}).get("overall") == "pass" else "failed"
    done = RunCompleted(version=ds["version"], status=status, artifact_key=v["artifact_key"],
                        git_commit=v["git_commit"], diff=diff)
    return (Outcome(env, key, svc.packs_fingerprint).cards(v["cards"])
            .event("diff-update", "diff_and_persist", diff)
            .event("run-complete", "diff_and_persist", RunComplete(
                decision_set_id=env.decision_set_id, version=ds["version"], status=status,
                artifact_url=f"/decision-sets/{env.decision_set_id}/artifact"))
            .send(Subjects.RUN_COMPLETED, done)
            .update(status=status, stage="done", git_commit=v["git_commit"], artifact_key=v["artifact_key"],
                    diff=diff, reports={"validation": v["validation"]})
            .result(run.checkpoint_id))


#: What each subject the validators consume runs.
HANDLERS = {Subjects.CODEGEN_COMPLETED: on_generated}


def routes(deps: Deps) -> list[Route]:
    warm_tools(deps.settings.validators_checkov)

    async def tree_key_of(decision_set_id: str) -> str | None:
        row = await deps.reader.find_decision_set(decision_set_id)
        return row.get("tree_key") if row else None

    persist = PersistDeps(git=deps.git, load_tree=deps.artifacts.get,
                          put_artifact=deps.artifacts.put, artifact_key=artifact_key, tree_key_of=tree_key_of,
                          checkov=deps.settings.validators_checkov, timeout_s=deps.settings.validators_timeout_s,
                          osv_url=deps.settings.osv_url, terraform=deps.settings.validators_terraform)
    svc = Validators(graph=build_graph(persist, deps.checkpointer), db=deps.reader,
                     packs_fingerprint=deps.providers.packs.fingerprint)
    return bind(HANDLERS, svc)


def create_app(settings: Settings) -> FastStream:
    return agent_app(SERVICE, settings, routes)
