"""Availability rules (pure): upstream facility stock + a store's region and rules → desired value.

The SQL query `desired_rows` in sql/queries/state.sql says the same thing set-based; a property test
runs both on the same generated data and requires identical answers. Missing data is *unknown* (None),
never "out of stock": a store is only ever flipped by data that says so.
"""

from __future__ import annotations

from collections.abc import Iterable

from daemon.model import Availability, FacilityStock, StockStatus, StoreMode, StoreRules, VariantKind


def carrying_stock(stock: Iterable[FacilityStock], region_facilities: frozenset[str]) -> list[FacilityStock]:
    """The stock rows that count for a store: facilities of its selling region that carry the variant."""
    return [row for row in stock if row.facility_id in region_facilities]


def desired_for(
    kind: VariantKind,
    stock: Iterable[FacilityStock],
    region_facilities: frozenset[str],
    rules: StoreRules,
) -> Availability | None:
    """What the store should show for one variant, or None when upstream data cannot say."""
    carrying = carrying_stock(stock, region_facilities)
    if not carrying:
        return None
    in_stock = [row for row in carrying if row.status is StockStatus.IN_STOCK]
    if kind is VariantKind.POD:
        return _pod(bool(in_stock), rules)
    if any(row.quantity is None for row in in_stock):
        return None  # an in-stock facility that never counted: a sum would be a meaningless number
    on_hand = sum(row.quantity or 0 for row in in_stock)
    return _warehouse(on_hand, rules)


def _pod(available: bool, rules: StoreRules) -> Availability:
    if rules.mode is StoreMode.STATUS:
        return Availability(available)
    shown = _cap(rules.pod_quantity, rules) if available else 0
    return Availability(available, shown)


def _warehouse(on_hand: int, rules: StoreRules) -> Availability:
    sellable = max(on_hand - rules.safety_buffer, 0)
    if rules.mode is StoreMode.STATUS:
        return Availability(sellable > 0)
    return Availability(sellable > 0, _cap(sellable, rules))


def _cap(quantity: int, rules: StoreRules) -> int:
    return quantity if rules.max_quantity is None else min(quantity, rules.max_quantity)


def same_value(a: Availability, b: Availability, mode: StoreMode) -> bool:
    """Compare two store-side values the way the storefront would (no false drift from null vs 0).

    Status mode compares the sellable flag only. Quantity mode: unlimited equals only unlimited;
    otherwise counts where both sides have one, else the flag (a status-only platform cannot show a
    count).
    """
    if mode is StoreMode.QUANTITY and (a.unlimited or b.unlimited):
        return a.unlimited == b.unlimited
    if mode is StoreMode.QUANTITY and a.quantity is not None and b.quantity is not None:
        return a.quantity == b.quantity
    return a.available == b.available
