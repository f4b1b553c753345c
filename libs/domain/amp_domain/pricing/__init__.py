"""The dated price book: unit prices per cloud and regional multipliers, read from `pricebook.yaml`.

The cost critic prices a plan's bill of materials with it. Changing a price means editing data and
bumping `as_of`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

PRICEBOOK_PATH = Path(__file__).resolve().parent / "pricebook.yaml"


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    usd: float
    unit: str
    service: str
    kind: Literal["fixed", "usage"]
    regional: bool = True


class PriceBook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    as_of: str
    currency: Literal["USD"]
    source: str
    unknown_region_multiplier: float
    multipliers: dict[str, dict[str, float]]
    prices: dict[str, Price]

    @property
    def label(self) -> str:
        return f"{self.name}@{self.as_of}"

    def multiplier(self, cloud: str, region: str) -> tuple[float, bool]:
        """The region's multiplier, and whether the region is known to the price book."""
        table = self.multipliers.get(cloud, {})
        if region in table:
            return table[region], True
        return self.unknown_region_multiplier, False

    def unit_price(self, key: str, cloud: str, region: str) -> float:
        price = self.prices[key]
        factor = self.multiplier(cloud, region)[0] if price.regional else 1.0
        return round(price.usd * factor, 6)


@lru_cache(maxsize=1)
def load_pricebook() -> PriceBook:
    with PRICEBOOK_PATH.open(encoding="utf-8") as fh:
        raw = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return PriceBook.model_validate(raw)
