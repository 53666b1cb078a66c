"""Declarative per-platform facts: stock model, batch sizes, rate budget, webhook scheme, doc source.

Shared code (batching, pacing, the engine) is configured by these values instead of re-implementing
per platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StockModel(StrEnum):
    """What a platform stores for sellability."""

    STATUS = "status"  # a flag only (in stock / sold out)
    QUANTITY = "quantity"  # a count only; 0 means unavailable
    BOTH = "both"  # a flag and an optional managed count


class PacingModel(StrEnum):
    """Which signal paces requests to a store."""

    LEAKY_BUCKET = "leaky_bucket"  # fixed requests/s with a burst, corrected by 429 + Retry-After
    COST_POINTS = "cost_points"  # query-cost bucket reported by the platform (Shopify GraphQL)


@dataclass(frozen=True, slots=True)
class RateBudget:
    """A store's request budget as documented by the platform."""

    requests_per_second: float
    burst: int = 1
    model: PacingModel = PacingModel.LEAKY_BUCKET
    # cost-points platforms: bucket size and restore rate (points/s) until the platform reports its own
    bucket_size: float = 0.0
    restore_rate: float = 0.0


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Everything the engine needs to know about a platform before talking to it."""

    platform: str
    stock_model: StockModel
    max_read_batch: int
    max_write_batch: int
    rate_budget: RateBudget
    webhook_scheme: str | None
    compare_and_set: bool = False
    source: str = ""  # documentation pages (and the date they were read) the numbers come from
    # the platform_ref key a store notification names an item by, when it cannot name the external id
    notification_ref: str | None = (
        None  # documentation pages (and the date they were read) the numbers come from
    )
