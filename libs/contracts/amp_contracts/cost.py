"""Cost estimate: a priced bill of materials with a range and a delta."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CostItem(BaseModel):
    service: str
    qty: str
    usd: float = Field(ge=0)
    component: str | None = None
    region: str | None = None
    unit_price_usd: float | None = None


class CostEstimate(BaseModel):
    monthly_usd: float = Field(ge=0)
    breakdown: list[CostItem] = Field(default_factory=list)
    method: str = "bom_v1"
    low_usd: float | None = None
    high_usd: float | None = None
    assumptions: list[str] = Field(default_factory=list)
    price_book: str = ""
    delta_vs_prev_usd: float | None = None
    delta_vs_prev_pct: float | None = None
