"""Documentation of the generated repository: README, architecture, design rationale, ADRs, plan.

Everything a reviewer reads is built from the plan, constraints, cost, policy, risks and
Reason Cards. Those carry user text, so every value goes through `md_inline`/`md_cell`
(or `mermaid_label`) and never shapes the document structure. No timestamps are written,
so that regenerating an unchanged decision set changes no file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from amp_contracts import Candidate, Component, ConstraintSchema, CostEstimate, Plan, PolicyResults, ReasonCard, Risk
from amp_domain.build import ENVIRONMENTS, built_component, built_components

from .render_domain import Domain
from .render_text import md_cell, md_code, md_inline, mermaid_label

CLOUD_TITLES = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Azure"}

#: Capabilities that get an ADR, in reading order.
ADR_CAPABILITIES: tuple[str, ...] = (
    "storage", "ingest_batch", "ingest_stream", "stream_processing", "feature_store", "training",
    "registry", "orchestration", "serving_online", "serving_batch",
)

_LAYERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("data", "Data", ("ingest_batch", "ingest_stream", "stream_processing", "storage", "feature_store")),
    ("ml", "Training and registry", ("orchestration", "training", "registry")),
    ("serve", "Serving and monitoring", ("serving_online", "serving_batch", "monitoring")),
    ("platform", "Platform controls", ("security_kms", "networking_private", "audit_logging", "ci_cd")),
)

#: Data flow between capabilities (solid) and control relations (dotted), drawn when both ends exist.
_FLOWS: tuple[tuple[str, str, str], ...] = (
    ("ingest_batch", "storage", "raw files"),
    ("ingest_stream", "stream_processing", "events"),
    ("stream_processing", "storage", "scored events"),
    ("stream_processing", "feature_store", "fresh features"),
    ("storage", "feature_store", "feature tables"),
    ("feature_store", "training", "training set"),
    ("storage", "training", "training data"),
    ("training", "registry", "model versions"),
    ("registry", "serving_online", "approved model"),
    ("registry", "serving_batch", "approved model"),
    ("registry", "stream_processing", "approved model"),
    ("feature_store", "serving_online", "online features"),
    ("storage", "serving_batch", "feature rows"),
    ("serving_batch", "storage", "scores"),
    ("serving_online", "monitoring", "latency, errors, drift"),
    ("serving_batch", "monitoring", "job metrics"),
    ("stream_processing", "monitoring", "lag, errors"),
)
_CONTROLS: tuple[tuple[str, str, str], ...] = (
    ("orchestration", "training", "schedules"),
    ("orchestration", "serving_batch", "schedules"),
    ("security_kms", "storage", "encrypts"),
    ("networking_private", "serving_online", "private endpoints"),
    ("audit_logging", "storage", "audits access"),
    ("ci_cd", "serving_online", "deploys"),
    ("ci_cd", "serving_batch", "deploys"),
)


def title_of(capability: str) -> str:
    return capability.replace("_", " ").capitalize()


def _table(header: list[str], rows: Iterable[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _fmt(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


# --- architecture --------------------------------------------------------------------------

def mermaid(plan: Plan) -> str:
    """A flowchart with one node per component (capability, name, service) and its data flows."""
    comps = {c.capability: c for c in plan.components}
    lines = ["flowchart LR"]
    for layer_id, layer_title, caps in _LAYERS:
        present = [c for c in caps if c in comps]
        if not present:
            continue
        lines.append(f'  subgraph {layer_id}["{layer_title}"]')
        for cap in present:
            comp = comps[cap]
            detail = " / ".join(x for x in dict.fromkeys([comp.name, comp.service]) if x) or comp.pattern_id
            lines.append(f'    {cap}["{cap}<br/>{mermaid_label(detail)}"]')
        lines.append("  end")
    for src, dst, label in _FLOWS:
        if src in comps and dst in comps:
            lines.append(f"  {src} -->|{label}| {dst}")
    for src, dst, label in _CONTROLS:
        if src in comps and dst in comps:
            lines.append(f"  {src} -.->|{label}| {dst}")
    return "\n".join(lines) + "\n"


def architecture_md(plan: Plan, domain: Domain) -> str:
    cloud = CLOUD_TITLES.get(plan.cloud, plan.cloud)
    rows = [[c.capability, c.name or c.service, c.service, c.pattern_id, c.deployment,
             ", ".join(c.regions or plan.regions[:1]), f"infra/modules/{c.capability}"] for c in plan.components]
    return (
        "# Architecture\n\n"
        f"A {md_inline(domain.title)} system on {cloud}, primary region {md_code(plan.regions[0] if plan.regions else 'n/a')}. "
        "Solid arrows are data flows; dotted arrows are control (scheduling, encryption, deployment).\n\n"
        "```mermaid\n" + mermaid(plan) + "```\n\n"
        "## Components\n\n"
        + _table(["Capability", "Name", "Service", "Pattern", "Deployment", "Regions", "Terraform"], rows)
    )


# --- design rationale ------------------------------------------------------------------------

def _candidates_table(candidates: list[Candidate]) -> str:
    rows = [[c.id, c.summary, "; ".join(c.pros), "; ".join([*c.cons, *c.tradeoffs]),
             "" if c.score is None else f"{c.score:g}", c.rejected_because or "chosen"] for c in candidates]
    return _table(["Candidate", "Summary", "Pros", "Cons / trade-offs", "Score", "Outcome"], rows)


def _card_section(n: int, card: ReasonCard) -> str:
    heading = card.choice.id if card.choice else (card.summary or card.decision_id)
    out = [f"## {n}. {md_inline(card.node_name)}: {md_inline(heading)}\n"]
    out.append(f"- **Agent:** {md_inline(card.agent)} (trigger: {md_inline(card.trigger)}, decided by "
               f"{md_inline(card.provider.provider)})")
    if card.inputs.constraints_keys:
        out.append(f"- **Constraints referenced:** {md_inline(', '.join(card.inputs.constraints_keys))}")
    if card.summary:
        out.append(f"- **Summary:** {md_inline(card.summary)}")
    out.append("")
    if card.candidates:
        out.append("### Candidates considered\n")
        out.append(_candidates_table(card.candidates))
    if card.choice:
        out.append("### Decision\n")
        out.append(f"**{md_inline(card.choice.id)}**: {md_inline(card.choice.justification)}\n")
    if card.policy_results or card.impacts:
        out.append("### Policy and cost impact\n")
        rows = [[f"policy: {k}", v] for k, v in sorted(card.policy_results.items())]
        rows += [[f"impact: {k}", _fmt(v)] for k, v in sorted(card.impacts.items())]
        out.append(_table(["Check", "Result"], rows))
    out.append(f"**Confidence:** {card.confidence:.0%}\n")
    if card.risks:
        out.append("**Risks:**\n")
        out.extend(f"- {md_inline(r)}" for r in card.risks)
        out.append("")
    if card.assumptions:
        out.append("**Assumptions:**\n")
        out.extend(f"- {md_inline(a)}" for a in card.assumptions)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def design_rationale_md(cards: list[ReasonCard], plan: Plan) -> str:
    head = ("# Design rationale\n\n"
            "One section per Reason Card: what was decided, which options were weighed and why they lost, "
            "the policy and cost impact, and how confident the decision is.\n")
    if not cards:
        body = "\nNo Reason Cards were recorded; see the component justifications below.\n\n"
        rows = [[c.capability, c.pattern_id, c.justification] for c in plan.components]
        return head + body + _table(["Capability", "Pattern", "Justification"], rows)
    return head + "".join("\n" + _card_section(i, card) for i, card in enumerate(cards, start=1))


# --- ADRs ----------------------------------------------------------------------------------------

def _chosen(comp: Component) -> Candidate | None:
    ids = {comp.pattern_id, comp.pattern_id.split(":")[-1], comp.service, comp.name}
    return next((c for c in comp.candidates if c.id in ids), None) or next(
        (c for c in comp.candidates if not c.rejected_because), None)


def adr_md(number: int, comp: Component, plan: Plan, constraints: ConstraintSchema,
           cost: CostEstimate | None, risks: list[Risk]) -> str:
    stated = constraints.stated()
    chosen = _chosen(comp)
    service = comp.service or comp.pattern_id.split(":")[-1]
    lines = [f"# {number}. {title_of(comp.capability)}: {md_inline(service)}\n", "## Status\n",
             "Accepted (approved at the pre-codegen review gate).\n", "## Context\n"]
    lines.append(f"The system needs a **{title_of(comp.capability).lower()}** capability on "
                 f"{CLOUD_TITLES.get(plan.cloud, plan.cloud)}.")
    answered = [k for k in comp.answers if k in stated]
    if answered:
        lines[-1] += " The constraints that shape it:\n"
        lines.extend(f"- {md_code(k)}: {md_inline(_fmt(stated[k]))}" for k in answered)
    lines.append("")
    others = [c for c in comp.candidates if c is not chosen]
    if others:
        lines.append("Options considered and rejected:\n")
        for c in others:
            why = c.rejected_because or "; ".join(c.cons) or "scored lower"
            lines.append(f"- **{md_inline(c.id)}**: {md_inline(c.summary or c.id)}. Rejected: {md_inline(why)}")
        lines.append("")
    lines.append("## Decision\n")
    regions = ", ".join(comp.regions or plan.regions[:1])
    sizing = f", sized {md_inline(_fmt(comp.sizing))}" if comp.sizing else ""
    lines.append(f"We will use **{md_inline(service)}** (pattern {md_code(comp.pattern_id)}), "
                 f"deployed as {comp.deployment} in {md_inline(regions)}{sizing}.")
    if comp.justification:
        lines.append(f"\n{md_inline(comp.justification)}")
    built = built_component(plan.cloud, comp)
    if built.module:
        creates = ", ".join(md_code(t) for t in built.builds)
        inputs = ", ".join(f"{md_code(i.name)} = {md_inline(_fmt(i.prod))}" for i in built.inputs)
        lines.append(f"\nIt is provisioned by `infra/modules/{comp.capability}`, which creates {creates}"
                     + (f" and takes {inputs} in prod" if inputs else "") + ".\n")
    else:
        lines.append(f"\nNo generated module builds this pattern yet: `infra/modules/{comp.capability}` is a "
                     "stand-in and the repository fails its conformance check until the plan changes.\n")
    lines.append("## Consequences\n")
    if chosen:
        lines.extend(f"- Positive: {md_inline(p)}" for p in chosen.pros)
        lines.extend(f"- Negative: {md_inline(c)}" for c in [*chosen.cons, *chosen.tradeoffs])
    items = [i for i in (cost.breakdown if cost else []) if i.component in {comp.capability, comp.pattern_id, comp.name}]
    if items:
        total = sum(i.usd for i in items)
        lines.append(f"- Cost: about {_usd(total)} per month ({md_inline(', '.join(i.service for i in items))}).")
    mine = [r for r in risks if r.component in {comp.capability, comp.pattern_id, comp.name}]
    lines.extend(f"- Risk ({r.severity}): {md_inline(r.title)}. Probe: {md_inline(r.probe or 'n/a')}" for r in mine)
    if not (chosen or items or mine):
        lines.append("- No further consequences were recorded by the planner.")
    return "\n".join(lines).rstrip("\n") + "\n"


def adrs(plan: Plan, constraints: ConstraintSchema, cost: CostEstimate | None, risks: list[Risk]) -> dict[str, str]:
    comps = {c.capability: c for c in plan.components}
    present = [cap for cap in ADR_CAPABILITIES if cap in comps]
    return {f"docs/adr/{n:04d}-{cap.replace('_', '-')}.md": adr_md(n, comps[cap], plan, constraints, cost, risks)
            for n, cap in enumerate(present, start=1)}


# --- plan.md and reports -------------------------------------------------------------------------

def built_md(plan: Plan) -> str:
    """The plan as code, from the model the Terraform is rendered from (amp_domain.build).

    Typed inputs are the module variables, valued per environment in infra/environments/<env>.tfvars;
    the other sizing keys are usage assumptions the estimate prices but no resource is configured with.
    """
    rows = []
    for bc in built_components(plan):
        if bc.pattern is None or bc.module is None:
            what = "**no module builds this pattern**: the conformance check fails the repository"
        else:
            what = ", ".join(bc.builds)
        inputs = "; ".join(f"{i.name} = " + " / ".join(_fmt(i.values[e]) for e in ENVIRONMENTS)
                           for i in bc.inputs) or "none"
        usage = ", ".join(f"{k}={_fmt(bc.component.sizing[k])}" for k in bc.usage_keys()) or "none"
        rows.append([bc.capability, f"infra/modules/{bc.capability}", what, inputs, usage])
    return ("Each module takes the pattern's typed inputs; their values per environment are in "
            "`infra/environments/<env>.tfvars` (shown dev / staging / prod; prod is this plan). "
            "The validators' conformance check compares the rendered Terraform with this table.\n\n"
            + _table(["Capability", "Module", "Creates", "Typed inputs (dev / staging / prod)",
                      "Usage priced, not configured"], rows))


def plan_md(project: str, plan: Plan, constraints: ConstraintSchema, cost: CostEstimate | None,
            policy: PolicyResults | None, risks: list[Risk]) -> str:
    out = [f"# Plan: {md_inline(project)}\n\n",
           f"Cloud **{CLOUD_TITLES.get(plan.cloud, plan.cloud)}**, regions {md_inline(', '.join(plan.regions))}, "
           f"planning round {plan.round}" + (f", catalog {md_inline(plan.catalog_version)}" if plan.catalog_version else "")
           + ".\n\n", "## Constraints\n\n"]
    stated = constraints.stated()
    out.append(_table(["Constraint", "Value"], [[k, _fmt(v)] for k, v in stated.items()]) if stated
               else "No constraint was stated.\n")
    out.append("\n## Components\n\n")
    out.append(_table(["Capability", "Pattern", "Service", "Deployment", "Regions", "Sizing"], [
        [c.capability, c.pattern_id, c.service, c.deployment, ", ".join(c.regions or plan.regions[:1]), _fmt(c.sizing)]
        for c in plan.components]))
    out.append("\n## What the Terraform builds\n\n")
    out.append(built_md(plan))
    out.append("\n## Cost\n\n")
    if cost is None:
        out.append("Not estimated.\n")
    else:
        rng = f" (range {_usd(cost.low_usd)} to {_usd(cost.high_usd)})" if cost.low_usd is not None else ""
        delta = f"; {_usd(cost.delta_vs_prev_usd)} vs the previous version" if cost.delta_vs_prev_usd is not None else ""
        out.append(f"Estimated **{_usd(cost.monthly_usd)} per month**{rng}{delta}, method {md_code(cost.method)}.\n\n")
        out.append(_table(["Service", "Component", "Region", "Quantity", "USD / month"], [
            [i.service, i.component or "", i.region or "", i.qty, f"{i.usd:,.2f}"] for i in cost.breakdown]))
        if cost.assumptions:
            out.append("\nCost assumptions:\n\n")
            out.extend(f"- {md_inline(a)}\n" for a in cost.assumptions)
    out.append("\n## Policy\n\n")
    if policy is None:
        out.append("Not evaluated.\n")
    else:
        review = " Human review is required." if policy.requires_review else ""
        out.append(f"Overall: **{policy.overall}**.{review}\n\n")
        out.append(_table(["Rule", "Status", "Detail", "Control", "Waiver"], [
            [r.id, r.status, r.detail, r.control, (r.waiver_reason or "waived") if r.waived else ""] for r in policy.rules]))
    out.append("\n## Risks\n\n")
    if risks:
        for r in risks:
            where = f" ({md_inline(r.component)})" if r.component else ""
            out.append(f"- **{r.severity}**{where} {md_inline(r.title)}: {md_inline(r.detail)}\n")
            if r.probe:
                out.append(f"  - Probe: {md_inline(r.probe)}\n")
    else:
        out.append("None recorded.\n")
    out.append("\n## Assumptions\n\n")
    if plan.assumptions:
        out.extend(f"- {md_inline(a)}\n" for a in plan.assumptions)
    else:
        out.append("None.\n")
    if plan.open_questions:
        out.append("\n## Open questions\n\n")
        out.extend(f"- {md_inline(q)}\n" for q in plan.open_questions)
    return "".join(x if x.endswith("\n") else x + "\n" for x in out)


def reports(cost: CostEstimate | None, policy: PolicyResults | None) -> dict[str, str]:
    """The cost, policy and change-summary shapes as given; absent inputs are left for the validators stage."""
    out = {}
    if cost is not None:
        out["reports/cost.json"] = json.dumps(cost.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    if policy is not None:
        out["reports/policy.json"] = json.dumps(policy.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
    return out
