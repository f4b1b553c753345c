"""validators → rationale_compile → diff_and_persist.

The last stage owns the finished artifact: the reports, the rationale, the git commit and the zip.
Its effects are keyed (commit pinned per decision set, zip under its content hash), so a retry
changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from amp_contracts import CardDraft, ConstraintSchema, CostEstimate, DiffSummary, Plan, ReasonCard
from amp_domain.archive import zip_tree
from amp_domain.merge import merge_user_edits
from amp_runtime.faults import maybe_crash
from amp_runtime.gitstore import GitStore, commit_on_head, read_tree

from .changes import change_summary
from .checks import validate_tree
from .checks.conformance import TOOL as CONFORMANCE
from .checks.conformance import conformance, cost_reconcile
from .rationale import compile_rationale
from .report import ToolResult, ValidationReport, overall_of, to_json, to_sarif
from .sbom import SBOM_PATH, osv_scan, sbom

#: The state keys whose change the Change Summary reports.
STATE_KEYS = ("constraints", "plan", "risks", "cost", "policy", "assumptions")


@dataclass
class PersistDeps:
    """What persisting needs, passed in by the service (no globals)."""

    git: GitStore
    load_tree: Callable[[str], Any]
    put_artifact: Callable[[str, bytes], Any]
    artifact_key: Callable[[str, int, str, bytes], str]
    tree_key_of: Callable[[str], Any]
    checkov: bool = False
    timeout_s: float = 120.0
    osv_url: str = ""
    terraform: bool = True


#: Regenerated on every version from the run itself, never merged from a user's copy.
REGENERATED = ("reports/", "docs/design-rationale.md")


def carry_user_edits(generated: dict[str, str], upload: tuple[str, str, dict[str, str]] | None,
                     base_generated: dict[str, str] | None) -> tuple[dict[str, str], list[str], str | None]:
    """Merge the user's latest uploaded repository into this generation (Copier-style update).

    base = what was generated for the version the user edited, theirs = the user's tree,
    ours = this generation. Returns (tree, conflicted paths, user commit merged).
    """
    if upload is None or base_generated is None:
        return generated, [], None
    user_commit, _, user_files = upload
    theirs = {p: t for p, t in user_files.items() if not p.startswith(REGENERATED)}
    merged = merge_user_edits(base_generated, generated, theirs)
    return merged.files, merged.conflicts, user_commit


def plan_checks(files: dict[str, str], state_doc: dict[str, Any] | None) -> list[ToolResult]:
    """The checks that compare the tree with the approved decision: conformance and cost reconciliation."""
    doc = state_doc or {}
    if not doc.get("plan"):
        return [ToolResult(tool=CONFORMANCE, status="skipped", reason="no approved plan to compare the Terraform with")]
    plan = Plan.model_validate(doc["plan"])
    constraints = ConstraintSchema.model_validate(doc.get("constraints") or {})
    cost = CostEstimate.model_validate(doc["cost"]) if doc.get("cost") else None
    return [conformance(files, plan), cost_reconcile(files, plan, constraints, cost)]


def supply_chain_and_plan(files: dict[str, str], osv_url: str,
                          state_doc: dict[str, Any] | None) -> tuple[str | None, list[ToolResult]]:
    """The SBOM (its document, if one could be made), then its results, the OSV scan's and the plan checks'."""
    bom, bom_result = sbom(files)
    return bom, [bom_result, osv_scan(bom, osv_url), *plan_checks(files, state_doc)]


def validators(files: dict[str, str], checkov: bool, timeout_s: float = 120.0, osv_url: str = "",
               state_doc: dict[str, Any] | None = None, terraform: bool = False) -> dict[str, Any]:
    # The SBOM, the OSV query (a round trip to a remote database) and the plan checks read only the
    # tree: they run beside the tools instead of after the slowest of them.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="amp-supply-chain") as beside:
        side = beside.submit(supply_chain_and_plan, files, osv_url, state_doc)
        # install_tools: a tool env the background warm-up is still building is waited for (its lock),
        # not reported `skipped`, so the first run on a fresh machine checks everything.
        report: ValidationReport = validate_tree(files, checkov=checkov, install_tools=True, timeout_s=timeout_s,
                                                 terraform=terraform)
        bom, side_results = side.result()
    tools = [*report.tools, *side_results]
    report = report.model_copy(update={"tools": tools, "overall": overall_of(tools, report.secrets_found)})
    failing = [t for t in report.tools if t.status in ("fail", "error")]
    not_run = [t for t in report.tools if t.status == "skipped" and (t.reason or "").startswith("no isolation")]
    card = CardDraft(
        agent="validators", node_name="validators", trigger="user_approve",
        summary=f"Validation {report.overall}: " + ", ".join(
            f"{t.tool} {t.status}" + (" (no isolation)" if t in not_run else "") for t in report.tools),
        risks=[f"{t.tool}: {len(t.findings)} finding(s)" for t in failing]
        + [f"{t.tool}: not run, {t.reason}" for t in not_run]
        + [f"{t.tool}: sandbox {f.message}" for t in report.tools for f in t.findings if f.rule == "sandbox-stopped"],
        details={"tools": [{"tool": t.tool, "status": t.status, "findings": len(t.findings),
                            "duration_ms": t.duration_ms, "isolation": t.isolation,
                            **({"reason": t.reason} if t.reason else {})} for t in report.tools],
                 "secrets_found": report.secrets_found},
        links={"report": "/reports/validation.json", "sarif": "/reports/validation.sarif"},
        confidence=0.95 if report.overall == "pass" else 0.5,
    )
    # committed: without timings (the same tree gives the same files); the database keeps them
    documents = {"reports/validation.json": to_json(report, timings=False),
                 "reports/validation.sarif": to_sarif(report, timings=False)}
    if bom is not None:
        documents[SBOM_PATH] = bom
    return {"validation": json.loads(to_json(report)), "reports": documents,
            "cards": [card]}


def rationale_compile(cards: list[ReasonCard]) -> dict[str, Any]:
    rationale_json, markdown = compile_rationale(cards)
    return {"reports": {"reports/rationale.json": rationale_json}, "rationale_md": markdown}


def final_tree(files: dict[str, str], reports: dict[str, str], rationale_md: str) -> dict[str, str]:
    tree = dict(files)
    tree.update(reports)
    tree["docs/design-rationale.md"] = rationale_md
    return dict(sorted(tree.items()))


async def diff_and_persist(state: dict[str, Any], tree: dict[str, str], deps: PersistDeps) -> dict[str, Any]:
    repo = deps.git.repo(state["project_id"])
    version = state["version"]
    parent = state.get("parent") or None
    git_commit = await commit_on_head(repo, tree, f"Decision set v{version} ({state['decision_set_id']})",
                                      version_key=state["decision_set_id"])
    maybe_crash("validators", "after_git_commit")  # committed, the graph's run not yet checkpointed
    prev_files = None
    if parent and parent.get("git_commit"):
        prev_files = await read_tree(repo, parent["git_commit"])
    new_state = {k: state["state_doc"].get(k) for k in STATE_KEYS}
    prev_state = {k: parent.get(k) for k in STATE_KEYS} if parent else None
    summary: DiffSummary = change_summary(prev_state, new_state, prev_files, tree, git_commit,
                                          parent["id"] if parent else None,
                                          prev_prompt_pack=parent.get("prompt_pack_hash") if parent else None,
                                          new_prompt_pack=state["state_doc"].get("prompt_pack_hash"),
                                          merge_conflicts=state.get("merge_conflicts") or None)
    data = zip_tree(tree)
    key = deps.artifact_key(state["project_id"], version, "repository.zip", data)
    await deps.put_artifact(key, data)
    card = CardDraft(
        agent="persist", node_name="diff_and_persist", trigger="user_approve",
        summary=f"Committed {git_commit[:12]}: {len(tree)} files ({len(state['files'])} generated, "
                f"{len(tree) - len(state['files'])} reports and rationale); +{summary.files_added} "
                f"−{summary.files_removed} ~{summary.files_modified}"
                + (f" vs v{parent['version']}" if parent else " (first version)"),
        impacts={"cost_delta_usd": summary.cost_delta_usd},
        details={"state_keys_changed": summary.state_keys_changed, "docs_changed": summary.docs_changed,
                 "user_edits_merged": state.get("user_commit"), "merge_conflicts": summary.merge_conflicts},
        links={"diff": f"/decision-sets/{state['decision_set_id']}/diff",
               "artifact": f"/decision-sets/{state['decision_set_id']}/artifact"},
        confidence=1.0,
    )
    return {"git_commit": git_commit, "artifact_key": key, "diff": summary, "cards": [card]}
