"""Token and cost accounting per model call, and per-project LLM budgets.

Providers add one `UsageRecord` per API call to the `Accounting` of the call context; the
caller persists them with `Accounting.persist` (or `record_usage` one by one) into `llm_usage`.
`check_budget` compares what a project has spent (plus an estimate of the next call) with its
`llm_budgets.limit_usd`: a warning from 80 %, a hard stop at 100 %, and a pause when an
estimate would overrun what is left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from amp_contracts import BudgetExceeded, ProviderInfo
from pydantic import BaseModel

from ..metrics import BUDGET_CHECKS
from .config import Price
from .estimate import estimate_run

WARN_AT = 0.8


def cost_usd(price: Price | None, info: ProviderInfo) -> float:
    """USD of one call; 0 for a model without a configured price (e.g. a local model)."""
    if price is None:
        return 0.0
    usd = (info.input_tokens * price.input + info.output_tokens * price.output
           + info.cache_read_tokens * price.cache_read + info.cache_write_tokens * price.cache_write) / 1_000_000
    return round(usd, 6)


def estimate_usd(price: Price | None, prompt_chars: int, max_output_tokens: int) -> float:
    """A pessimistic pre-call estimate: ~4 characters per token in, the whole output allowance out."""
    if price is None:
        return 0.0
    return round(((prompt_chars / 4) * price.input + max_output_tokens * price.output) / 1_000_000, 6)


@dataclass
class UsageRecord:
    node: str
    info: ProviderInfo
    usd: float


@dataclass
class Accounting:
    """The calls of one step; the caller persists them after the step."""

    records: list[UsageRecord] = field(default_factory=list)

    def add(self, node: str, info: ProviderInfo, usd: float) -> None:
        self.records.append(UsageRecord(node, info.model_copy(), usd))

    @property
    def total_usd(self) -> float:
        return round(sum(r.usd for r in self.records), 6)

    def totals(self) -> dict[str, int]:
        keys = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
        return {k: sum(getattr(r.info, k) for r in self.records) for k in keys}

    async def persist(self, pool: Any, project_id: str, decision_set_id: str | None) -> int:
        for r in self.records:
            await record_usage(pool, project_id, decision_set_id, r.node, r.info, r.usd)
        n = len(self.records)
        self.records.clear()
        return n


async def record_usage(pool: Any, project_id: str, decision_set_id: str | None, node: str, info: ProviderInfo,
                       usd: float) -> None:
    """One row of `llm_usage` (asyncpg pool or connection)."""
    await pool.execute(
        "INSERT INTO llm_usage (project_id, decision_set_id, node, provider, model, input_tokens, output_tokens, "
        "cache_read_tokens, cache_write_tokens, usd) VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10)",
        str(project_id), str(decision_set_id) if decision_set_id else None, node, info.provider, info.model,
        info.input_tokens, info.output_tokens, info.cache_read_tokens, info.cache_write_tokens, Decimal(str(usd)))


async def set_budget(pool: Any, project_id: str, limit_usd: float | None) -> None:
    """Set (or, with None, remove) a project's LLM budget."""
    if limit_usd is None:
        await pool.execute("DELETE FROM llm_budgets WHERE project_id = $1::uuid", str(project_id))
        return
    await pool.execute(
        "INSERT INTO llm_budgets (project_id, limit_usd) VALUES ($1::uuid, $2) "
        "ON CONFLICT (project_id) DO UPDATE SET limit_usd = EXCLUDED.limit_usd, updated_at = now()",
        str(project_id), Decimal(str(limit_usd)))


class BudgetStatus(BaseModel):
    project_id: str
    limit_usd: float | None
    spent_usd: float
    estimate_usd: float = 0.0
    remaining_usd: float | None
    level: Literal["unlimited", "ok", "warn"]
    message: str


async def check_budget(pool: Any, project_id: str, estimate_usd: float = 0.0,
                       what: str = "the next call") -> BudgetStatus:
    """The project's budget position; raises `BudgetExceeded` at 100 % or when `estimate_usd` would overrun it."""
    row = await pool.fetchrow(
        "SELECT b.limit_usd, (SELECT coalesce(sum(u.usd), 0) FROM llm_usage u WHERE u.project_id = $1::uuid) AS spent "
        "FROM (SELECT 1) one LEFT JOIN llm_budgets b ON b.project_id = $1::uuid", str(project_id))
    limit = float(row["limit_usd"]) if row["limit_usd"] is not None else None
    spent = float(row["spent"])
    est = max(0.0, float(estimate_usd))
    if limit is None:
        return BudgetStatus(project_id=str(project_id), limit_usd=None, spent_usd=spent, estimate_usd=est,
                            remaining_usd=None, level="unlimited", message=f"No LLM budget set; ${spent:.2f} spent.")
    remaining = round(limit - spent, 6)
    details = [{"limit_usd": limit, "spent_usd": spent, "estimate_usd": est, "remaining_usd": max(remaining, 0.0)}]
    if spent >= limit:
        raise BudgetExceeded(f"The project's LLM budget of ${limit:.2f} is used up (${spent:.2f} spent). Raise the "
                             "budget or switch the project to the deterministic provider to continue.",
                             details=details)
    if est > remaining:
        raise BudgetExceeded(f"Paused before calling the model: {what} may cost up to ${est:.2f} but only "
                             f"${remaining:.2f} of the ${limit:.2f} LLM budget is left (${spent:.2f} spent). "
                             "Raise the budget to continue.", details=details)
    level: Literal["ok", "warn"] = "warn" if spent + est >= WARN_AT * limit else "ok"
    pct = (spent + est) / limit * 100 if limit else 100.0
    msg = (f"{pct:.0f}% of the ${limit:.2f} LLM budget used or committed (${spent:.2f} spent)"
           + ("; nearing the limit" if level == "warn" else ""))
    return BudgetStatus(project_id=str(project_id), limit_usd=limit, spent_usd=spent, estimate_usd=est,
                        remaining_usd=remaining, level=level, message=msg)


def budget_guard(pool: Any, project_id: str):
    """A `CallContext.budget` that checks the project's budget before each model call."""

    async def guard(estimate: float) -> BudgetStatus:
        try:
            status = await check_budget(pool, project_id, estimate)
        except BudgetExceeded:
            BUDGET_CHECKS.labels("exceeded").inc()
            raise
        BUDGET_CHECKS.labels(status.level).inc()
        return status

    return guard


async def usage_history(pool: Any, project_id: str) -> dict[str, tuple[float, float]]:
    """Mean (input, output) tokens each model call used per version of the project so far."""
    rows = await pool.fetch(
        "SELECT node, avg(tin)::float AS tin, avg(tout)::float AS tout FROM ("
        " SELECT node, decision_set_id, sum(input_tokens + cache_read_tokens + cache_write_tokens) AS tin,"
        " sum(output_tokens) AS tout FROM llm_usage WHERE project_id = $1::uuid AND decision_set_id IS NOT NULL"
        " GROUP BY node, decision_set_id) per_version GROUP BY node", str(project_id))
    return {r["node"]: (r["tin"], r["tout"]) for r in rows}


async def record_estimate(pool: Any, project_id: str, decision_set_id: str, estimate: Any) -> None:
    """Keep a version's pre-run estimate (the first one: a resumed run does not re-estimate its record)."""
    await pool.execute(
        "INSERT INTO llm_estimates (decision_set_id, project_id, input_tokens, output_tokens, usd, calls) "
        "VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6::jsonb) ON CONFLICT (decision_set_id) DO NOTHING",
        str(decision_set_id), str(project_id), estimate.input_tokens, estimate.output_tokens,
        Decimal(str(estimate.usd)), json.dumps([c.__dict__ for c in estimate.calls]))


async def estimates_vs_actuals(pool: Any, project_id: str) -> list[dict[str, Any]]:
    """Per version of the project: what the run was estimated to spend on models, and what it spent."""
    rows = await pool.fetch(
        "SELECT d.id AS decision_set_id, d.version, e.usd::float AS estimate_usd,"
        " e.input_tokens + e.output_tokens AS estimate_tokens,"
        " coalesce(u.usd, 0)::float AS actual_usd, coalesce(u.tokens, 0)::bigint AS actual_tokens"
        " FROM decision_sets d LEFT JOIN llm_estimates e ON e.decision_set_id = d.id"
        " LEFT JOIN (SELECT decision_set_id, sum(usd) AS usd,"
        "            sum(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens) AS tokens"
        "            FROM llm_usage WHERE project_id = $1::uuid GROUP BY decision_set_id) u"
        "   ON u.decision_set_id = d.id"
        " WHERE d.project_id = $1::uuid AND (e.decision_set_id IS NOT NULL OR u.decision_set_id IS NOT NULL)"
        " ORDER BY d.version", str(project_id))
    return [{**dict(r), "decision_set_id": str(r["decision_set_id"])} for r in rows]


async def preflight(pool: Any, config: Any, packs: Any, project_id: str, decision_set_id: str,
                    input_chars: int) -> Any:
    """Before a version's first model call: estimate the whole run, keep the estimate, and pause
    (`BudgetExceeded`) when it would overrun what is left of the project's budget."""
    estimate = estimate_run(config, packs, input_chars, await usage_history(pool, project_id))
    if not estimate.calls:
        return estimate  # every call answered by the rules: nothing to spend
    await record_estimate(pool, project_id, decision_set_id, estimate)
    await check_budget(pool, project_id, estimate.usd,
                       what=f"this version's {len(estimate.calls)} model calls (estimated "
                            f"{estimate.input_tokens + estimate.output_tokens:,} tokens)")
    return estimate
