"""Magento MSI source items and catalog products as our values (pure: no I/O): the search criteria
of a read, what a (product, source item) pair means for sale, and the source item a change writes.
See reconcilers/magento.py."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.model import Change, Observed
from daemon.store_values import out_of_range, whole_count
from reconcilers.observations import counted, unenforceable

IN_STOCK, OUT_OF_STOCK = 1, 0  # SourceItemInterface::STATUS_*
BACKORDERS_NO = 0  # CatalogInventory backorders: 0 no, 1 allow, 2 allow and notify
# platform_ref key: the stock item's out-of-stock threshold (min_qty); a count at or below it sells nothing
OUT_OF_STOCK_AT = "out_of_stock_at"
# a product read needs the SKU, the type and (where the list carries it) the stock item
PRODUCT_FIELDS = "items[sku,type_id,extension_attributes[stock_item]],search_criteria,total_count"


def links_of(source_code: str) -> dict[str, str]:
    """searchCriteria for the stock–source links of our source (one page of one: total_count answers)."""
    group = "searchCriteria[filterGroups][0][filters][0][{}]"
    return {
        group.format("field"): "source_code",
        group.format("value"): source_code,
        group.format("conditionType"): "eq",
        "searchCriteria[pageSize]": "1",
        "searchCriteria[currentPage]": "1",
    }


def unlinked(external_id: str, source_code: str) -> Observed:
    why = (
        f"source {source_code!r} is linked to no stock, so its quantities reach no website: "
        "assign it to the website's stock (Stores > Inventory > Stocks)"
    )
    return unenforceable(external_id, why)


def criteria(skus: Sequence[str], source_code: str | None, page_size: int, page: int) -> dict[str, str]:
    """searchCriteria query parameters: sku `in` the list (group 0) AND source_code `eq` (group 1);
    filter groups are ANDed, filters inside one group ORed."""
    group = "searchCriteria[filterGroups][{}][filters][0][{}]"
    params = {
        group.format(0, "field"): "sku",
        group.format(0, "value"): ",".join(skus),
        group.format(0, "conditionType"): "in",
    }
    if source_code is not None:
        params[group.format(1, "field")] = "source_code"
        params[group.format(1, "value")] = source_code
        params[group.format(1, "conditionType")] = "eq"
    params["searchCriteria[pageSize]"] = str(page_size)
    params["searchCriteria[currentPage]"] = str(page)
    return params


COMMA = "the SKU contains a comma, which Magento's `in` search filter splits: it cannot be read by list"


def refused_sku(sku: str) -> str | None:
    """Why Magento refuses a SKU in a source item (its SKU validator), None when it takes it."""
    if not sku or sku != sku.strip():
        return "a Magento SKU is not empty and has no leading or trailing whitespace"
    return None


def by_sku(items: Sequence[Any]) -> dict[str, Mapping[str, Any]]:
    """Answer objects keyed by lower-cased SKU (Magento compares SKUs case-insensitively, so a search
    for "abc" finds "ABC", and no two products differ by case alone)."""
    return {i["sku"].lower(): i for i in items if isinstance(i, dict) and isinstance(i.get("sku"), str)}


def listed_stock_item(product: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The stock item a product answer carries: the product list leaves it out on 2.3/2.4
    (magento/magento2#36533), a store with that fixed (or a single product's answer) has it."""
    extension = product.get("extension_attributes")
    stock_item = extension.get("stock_item") if isinstance(extension, dict) else None
    return stock_item if isinstance(stock_item, dict) else None


def as_observed(
    external_id: str,
    product: Mapping[str, Any],
    stock_item: Mapping[str, Any] | None,
    item: Mapping[str, Any] | None,
    source_code: str,
) -> Observed:
    """What the storefront can be made to show for one product through its source item at our source.

    Manage Stock = No sells without a count and backorders sell past 0: neither can be held back by
    a source item, so both are problems (reported, never written). A product without a source item
    at our source is not ours to assign."""
    ref: dict[str, Any] = {}
    if stock_item is not None:
        threshold = stock_item.get("min_qty")
        if isinstance(threshold, int | float) and not isinstance(threshold, bool) and threshold > 0:
            at = whole_count(threshold)
            if at is None:
                return Observed(external_id, None, None, problem=out_of_range(threshold))
            ref[OUT_OF_STOCK_AT] = at  # salable = quantity - min_qty: whole counts above it sell
        if stock_item.get("manage_stock") is False:
            why = "Manage Stock is No: Magento sells it without a count (unlimited); set Manage Stock to Yes"
            return unenforceable(external_id, why)
        backorders = stock_item.get("backorders")
        if isinstance(backorders, int) and not isinstance(backorders, bool) and backorders != BACKORDERS_NO:
            why = "backorders are allowed: Magento keeps selling below 0; set Backorders to No"
            return unenforceable(external_id, why)
    if item is None:
        kind = str(product.get("type_id") or "unknown")[:40]
        why = f"not assigned to source {source_code!r} (product type {kind}): assign it in its Sources"
        return unenforceable(external_id, why)
    status, quantity = item.get("status"), item.get("quantity")
    if status not in (IN_STOCK, OUT_OF_STOCK) or isinstance(status, bool):
        return unenforceable(external_id, f"source item status {str(status)[:20]!r} is neither 0 nor 1")
    if isinstance(quantity, bool) or not isinstance(quantity, int | float):
        return unenforceable(external_id, f"source item quantity {str(quantity)[:20]!r} is not a number")
    count = whole_count(quantity)
    if count is None:
        return Observed(external_id, None, None, problem=out_of_range(quantity))
    if count != quantity:  # a decimal quantity sells its fraction: the next whole count, never equal to ours
        count = math.floor(quantity) + 1
    return counted(
        external_id, status == IN_STOCK and count > ref.get(OUT_OF_STOCK_AT, 0), count, ref or None
    )


def entry_for(change: Change, source_code: str, in_stock_quantity: int) -> dict[str, Any]:
    """The absolute source item for a change; quantity and status are always both sent (a missing
    status fails the whole request's validation)."""
    target = change.target
    if not target.available:
        quantity = 0
    elif target.quantity is not None:  # quantity mode
        quantity = max(target.quantity, 0)
    else:  # status mode: keep a count the store already shows, else the store's in-stock count
        shown = change.expected.quantity if change.expected is not None else None
        quantity = shown if shown is not None and shown > threshold_of(change) else in_stock_quantity
    status = IN_STOCK if target.available and quantity > 0 else OUT_OF_STOCK
    return {"sku": change.external_id, "source_code": source_code, "quantity": quantity, "status": status}


def threshold_of(change: Change) -> int:
    at = (change.platform_ref or {}).get(OUT_OF_STOCK_AT, 0)
    return at if isinstance(at, int) else 0


def threshold_problem(change: Change, entry: Mapping[str, Any]) -> str | None:
    """A sellable count the store's out-of-stock threshold would hide: reported, not written."""
    at = threshold_of(change)
    if entry["status"] != IN_STOCK or entry["quantity"] > at:
        return None
    return (
        f"the store's out-of-stock threshold (min_qty {at}) hides a count of {entry['quantity']}: "
        "lower the threshold or the count cannot be shown"
    )


def as_written(change: Change, entry: Mapping[str, Any]) -> Observed:
    """The confirmation of a saved source item: the values sent (the answer carries none)."""
    sells = entry["status"] == IN_STOCK and entry["quantity"] > threshold_of(change)
    return counted(change.external_id, sells, entry["quantity"], change.platform_ref)
