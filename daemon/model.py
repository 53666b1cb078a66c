"""Plain values shared by every part of stocksync: the vocabulary of DESIGN.md as frozen dataclasses.

Nothing here does I/O; rules, planner, engine, database layer and reconcilers all speak these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class VariantKind(StrEnum):
    POD = "pod"
    WAREHOUSE = "warehouse"


class StockStatus(StrEnum):
    IN_STOCK = "in_stock"
    OUT_OF_STOCK = "out_of_stock"
    DISCONTINUED = "discontinued"


class DriftPolicy(StrEnum):
    OVERWRITE = "overwrite"
    REPORT = "report"
    PROTECT = "protect"


class StoreMode(StrEnum):
    """What a store shows: only a sellable flag, or a quantity."""

    STATUS = "status"
    QUANTITY = "quantity"


@dataclass(frozen=True, slots=True)
class FacilityStock:
    """Upstream stock of one variant in one facility."""

    facility_id: str
    status: StockStatus
    quantity: int | None = None


@dataclass(frozen=True, slots=True)
class StoreRules:
    """The per-store rules applied on top of upstream availability."""

    mode: StoreMode = StoreMode.STATUS
    safety_buffer: int = 0
    max_quantity: int | None = None
    pod_quantity: int = 100


@dataclass(frozen=True, slots=True)
class Availability:
    """A store-side value: sellable flag and, in quantity mode, a count.

    Used for desired, observed and applied alike so the three compare field by field. `unlimited`
    is a store that sells without a count (HubRise: no inventory entry; WooCommerce: stock not
    managed): available, quantity None, and in quantity mode a value of its own, unequal to any count.
    Desired is never unlimited.
    """

    available: bool
    quantity: int | None = None
    unlimited: bool = False


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """One connected shop as the engine and reconcilers see it (never holds a secret value)."""

    id: str
    platform: str
    region: str
    credential: str
    drift_policy: DriftPolicy = DriftPolicy.PROTECT
    rules: StoreRules = field(default_factory=StoreRules)
    settings: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    full_pass_interval_s: int = 4 * 3600


@dataclass(frozen=True, slots=True)
class SyncedVariant:
    """A mapping store × external id → upstream variant; only these are ever written.

    `platform_ref` holds ids a platform needs besides the external id (e.g. Shopify's inventory item),
    learned by observe() and kept in the store state.
    """

    store_id: str
    external_id: str
    variant_id: str
    platform_ref: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Observed:
    """What the store shows now for one synced variant, normalised by its reconciler.

    `available` None means the store does not track this item (e.g. stock management off): the
    planner treats it as "no value" rather than as unavailable. `unlimited`: see Availability.
    `problem`, when set, says why this item cannot be enforced here (untracked, not stocked at the
    location, sells past 0, a count the state database cannot hold or could not be read...): the
    engine reports it for that item once, records no value and plans nothing from it; it is not a
    failure and retrying cannot fix it. A reconciler's apply() refuses such an item without a request
    (see reconcilers.batching.CANNOT_ENFORCE).
    """

    external_id: str
    available: bool | None
    quantity: int | None = None
    platform_ref: Mapping[str, Any] | None = None
    unlimited: bool = False
    problem: str | None = None

    def as_availability(self) -> Availability | None:
        if self.available is None:
            return None
        return Availability(self.available, self.quantity, self.unlimited)


@dataclass(frozen=True, slots=True)
class Change:
    """One write the engine asks a reconciler to make: an absolute value, never a delta.

    `expected` is the last observed value, for platforms with compare-and-set.
    """

    external_id: str
    target: Availability
    expected: Availability | None = None
    platform_ref: Mapping[str, Any] | None = None
    reason: str = "desired"


class FailureKind(StrEnum):
    """Why an item was not written, as the engine should treat it."""

    TEMPORARY = "temporary"  # may pass later: retry with back-off
    PERMANENT = "permanent"  # this write can never pass as is: record the reason, do not retry
    AUTH = "auth"  # the store refused our credential (401/403): no other batch of this store can pass
    PROBLEM = "problem"  # cannot be enforced here (see Observed.problem): report, not a failure


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """One change the platform refused or could not take; `permanent` ones are not retried.

    `problem=True`: the item cannot be enforced on this store (stock managed by a parent product,
    untracked, not stocked at the location, sells past 0...); `reason` says why for support. It is
    not a failure: it should not fail a pass, be retried, or count towards a circuit breaker.
    `auth=True`: the credential was refused; the remaining batches of the pass cannot pass either.
    Both imply `permanent=True`, so an engine that only reads `permanent` never retries them.
    """

    external_id: str
    reason: str
    permanent: bool = False
    problem: bool = False
    auth: bool = False

    def __post_init__(self) -> None:
        if (self.problem or self.auth) and not self.permanent:
            object.__setattr__(self, "permanent", True)

    @property
    def kind(self) -> FailureKind:
        if self.problem:
            return FailureKind.PROBLEM
        if self.auth:
            return FailureKind.AUTH
        return FailureKind.PERMANENT if self.permanent else FailureKind.TEMPORARY


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What a platform confirmed and what failed, item by item."""

    confirmed: tuple[Observed, ...] = ()
    failed: tuple[ItemFailure, ...] = ()


@dataclass(frozen=True, slots=True)
class StockEvent:
    """An upstream facility stock change (webhook or source connector)."""

    event_id: str
    variant_id: str
    facility_id: str
    status: StockStatus
    quantity: int | None
    occurred_at: datetime
