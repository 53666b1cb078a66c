"""Declarative per-platform facts: the ONE place a platform's limits, pacing, encodings and units live.

Shared code is configured by these values instead of re-implementing them per platform: the pacer
(rate_budget), the transport (windows after a 429), the batch runner and the engine (max_write_batch,
unit_of), store settings (refinable), the README platform table and the contract suite (the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from daemon.model import Change


class StockModel(StrEnum):
    """What a platform stores for sellability."""

    STATUS = "status"  # a flag only (in stock / sold out)
    QUANTITY = "quantity"  # a count only; 0 means unavailable
    BOTH = "both"  # a flag and an optional managed count


class PacingModel(StrEnum):
    """Which signal paces requests to a store."""

    LEAKY_BUCKET = "leaky_bucket"  # fixed requests/s with a burst, corrected by 429 + Retry-After
    COST_POINTS = "cost_points"  # query-cost bucket reported by the platform (Shopify GraphQL)


class Refinement(StrEnum):
    """Store settings that refine a platform's documented limits; the same names on every platform."""

    REQUESTS_PER_SECOND = "requests_per_second"  # leaky-bucket rate
    BATCH_LIMIT = "batch_limit"  # max_write_batch
    PAGE_SIZE = "page_size"  # max_read_batch


class WriteUnit(StrEnum):
    """How a platform groups writes: one write request covers changes of one unit only."""

    STORE = "store"  # any items in one request (sandbox /items/batch, Shopify, a HubRise inventory)
    PARENT_PRODUCT = "parent_product"  # variations of one product per request (WooCommerce)
    LISTING = "listing"  # all variants of one listing per request (Etsy, later waves)
    ITEM = "item"  # one item per request: no multi-item write that answers at once (Ecwid, Webflow)


@dataclass(frozen=True, slots=True)
class RateWindow:
    """A documented request limit per window; `aligned`: counted per round minute/hour/day, so after
    a 429 the budget comes back at the next boundary, not `seconds` after the 429."""

    requests: int
    seconds: int
    aligned: bool = True


@dataclass(frozen=True, slots=True)
class RateBudget:
    """A store's request budget as documented by the platform."""

    requests_per_second: float
    burst: int = 1
    model: PacingModel = PacingModel.LEAKY_BUCKET
    # cost-points platforms: bucket size and restore rate (points/s) until the platform reports its own
    bucket_size: float = 0.0
    restore_rate: float = 0.0
    # documented windows, smallest first: a 429 without Retry-After waits for the next boundary
    windows: tuple[RateWindow, ...] = ()
    # response header announcing the requests left (0 pauses the store briefly); None: not sent.
    # Retry-After (HTTP's own) is read on every platform.
    remaining_header: str | None = None
    # the platform's own headers saying when the budget comes back, each with its unit in seconds
    # (BigCommerce: ("X-Rate-Limit-Time-Reset-Ms", 0.001)); after a 429 without Retry-After the
    # longest announced wait is honoured, and an empty budget (remaining 0) pauses the store that long
    reset_headers: tuple[tuple[str, float], ...] = ()


def _whole_store(external_id: str) -> str:
    return ""


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
    notification_ref: str | None = None
    # store settings that may replace max_write_batch / max_read_batch / the rate (settings.refined)
    refinable: frozenset[Refinement] = frozenset({Refinement.BATCH_LIMIT})
    # how the store encodes "no limit" (sells without a count); None: it has no such value
    unlimited: str | None = None
    write_unit: WriteUnit = WriteUnit.STORE
    # external id -> its write unit key: changes with different keys never share a request
    unit_key: Callable[[str], str] = field(default=_whole_store)
    # external id -> the product a notification names (Notification.reread_products); None: the
    # write unit is the product
    product_key: Callable[[str], str] | None = None

    def __post_init__(self) -> None:
        # the declared unit and the key that implements it must agree (the engine trusts the key)
        if (self.write_unit is WriteUnit.STORE) != (self.unit_key is _whole_store):
            raise ValueError(f"{self.platform}: write_unit {self.write_unit} needs a matching unit_key")

    def product_of(self, external_id: str) -> str:
        """The product of an item, as a notification that can only name products names it."""
        return (self.product_key or self.unit_key)(external_id)

    def unit_of(self, change: Change) -> str:
        """The write unit of a change: the engine packs batches so no unit spans two apply() calls."""
        return self.unit_key(change.external_id)
