"""Wix Stores Catalog V3 inventory items as our values (pure: no I/O): what an item shows for sale,
the bulk-update entry for a change, and the per-item outcome of a bulk update. See reconcilers/wix.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daemon.model import ApplyResult, Change, ItemFailure, Observed
from daemon.store_values import out_of_range, whole_count
from reconcilers.observations import counted, unenforceable
from reconcilers.transport import TemporaryError

ITEM = "inventory_item_id"  # platform_ref keys: the item (one per variant × location) ...
REVISION = "revision"  # ... its revision when read (sent back as the compare-and-set) ...
TRACKING = "tracking"  # ... and how it is tracked: "quantity" (a count) or "status" (inStock only)
MAX_QUANTITY = 1_000_000  # InventoryItem.quantity maximum (REST reference)
PREORDER = "pre-orders enabled: Wix keeps selling it at 0 (turn pre-orders off to sync it)"


def dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def as_observed(external_id: str, item: Mapping[str, Any]) -> Observed:
    """What the storefront does with an inventory item. Quantity tracking: a count (it may be negative
    after paid orders); in-stock tracking: `inStock` true sells without a count (unlimited), false
    does not sell. Pre-orders sell past 0, so such an item is a problem, never written."""
    item_id = item.get("id")
    if not isinstance(item_id, str) or not item_id:
        return unenforceable(external_id, "Wix inventory item without an id")
    ref: dict[str, Any] = {ITEM: item_id, REVISION: item.get("revision")}
    if dig(item, "preorderInfo", "enabled") is True:
        return unenforceable(external_id, PREORDER, ref)
    tracked = item.get("trackQuantity")
    quantity = item.get("quantity")
    if tracked is True or (tracked is None and quantity is not None):
        quantity = 0 if quantity is None else quantity  # a zero count may be left out of the JSON
        if isinstance(quantity, bool) or not isinstance(quantity, int | float):
            return unenforceable(external_id, "store value refused: Wix quantity is not a number", ref)
        if isinstance(quantity, float):  # not a JSON integer, or one too long to read (see transport)
            whole = whole_count(quantity)
            if whole is None:
                return unenforceable(external_id, out_of_range(quantity), ref)
            quantity = whole
        return counted(external_id, quantity > 0, quantity, {**ref, TRACKING: "quantity"})
    in_stock = item.get("inStock", False if tracked is False else None)
    if not isinstance(in_stock, bool):
        return unenforceable(external_id, "Wix inventory item has neither quantity nor inStock", ref)
    ref[TRACKING] = "status"
    if in_stock:  # in-stock tracking: for sale without a quantity limit
        return Observed(external_id, True, None, ref, unlimited=True)
    return Observed(external_id, False, None, ref)


def not_synced(catalog_version: str) -> str:
    """Why a site whose catalog is neither V1 nor V3 has nothing we can sync."""
    if catalog_version == "STORES_NOT_INSTALLED":
        return "Wix Stores is not installed on this site"
    return f"Wix catalog {catalog_version[:40]!r} is not one stocksync knows"


def usable_ref(change: Change) -> str | None:
    """Why this change cannot be sent as it is (None: it can)."""
    ref = change.platform_ref or {}
    if not isinstance(ref.get(ITEM), str) or ref.get(REVISION) is None:
        return "inventory item or revision unknown: observe first"
    if change.target.quantity is not None and change.target.quantity > MAX_QUANTITY:
        return f"quantity {change.target.quantity} is beyond Wix's maximum {MAX_QUANTITY}"
    return None


def entry_for(change: Change, in_stock_quantity: int) -> dict[str, Any]:
    """One bulk-update entry: id + the revision we read (compare-and-set) + an absolute value.

    Quantity mode writes the count (an in-stock-tracked item switches to quantity tracking: the store
    must hold the count). Status mode keeps the item's tracking method: a quantity-tracked item gets
    `in_stock_quantity` or 0, an in-stock-tracked one `inStock` true (no limit) or false."""
    ref = change.platform_ref or {}
    item: dict[str, Any] = {"id": ref[ITEM], "revision": ref[REVISION]}
    target = change.target
    if target.quantity is not None:
        item["quantity"] = max(target.quantity, 0) if target.available else 0
    elif ref.get(TRACKING) == "quantity":
        item["quantity"] = in_stock_quantity if target.available else 0
    else:
        item["inStock"] = bool(target.available)
    return {"inventoryItem": item}


def mapped(sent: Sequence[Change], body: Any) -> ApplyResult:
    """Per-item outcome of a bulk update: `results[].itemMetadata` names each entry by `originalIndex`
    (its position in the request); an entry without a result is an undetailed failure (retried)."""
    results = body.get("results") if isinstance(body, Mapping) else None
    if not isinstance(results, list):
        raise TemporaryError("wix: the bulk update answer has no results")
    by_index: dict[int, Mapping[str, Any]] = {}
    for position, result in enumerate(results):
        index = dig(result, "itemMetadata", "originalIndex")
        index = index if isinstance(index, int) and not isinstance(index, bool) else position
        if isinstance(result, Mapping):
            by_index[index] = result
    confirmed: list[Observed] = []
    failed: list[ItemFailure] = []
    for index, change in enumerate(sent):
        result = by_index.get(index)
        meta = dig(result, "itemMetadata")
        if result is None or not isinstance(meta, Mapping):
            failed.append(ItemFailure(change.external_id, "not applied: Wix gave no result for it"))
        elif meta.get("success") is True:
            confirmed.append(_confirmed(change, result.get("item")))
        else:
            error = meta.get("error")
            code = dig(error, "code") or "ERROR"
            why = f"refused by Wix: {str(code)[:60]}: {str(dig(error, 'description') or '')[:160]}"
            failed.append(ItemFailure(change.external_id, why.rstrip(": "), permanent=True))
    return ApplyResult(tuple(confirmed), tuple(failed))


def _confirmed(change: Change, item: Any) -> Observed:
    if isinstance(item, Mapping):  # returnEntity: the item as written, with its new revision
        return as_observed(change.external_id, item)
    # no entity: the target stands, but the revision moved on, so the next write must re-read first
    ref = {k: v for k, v in (change.platform_ref or {}).items() if k != REVISION}
    return Observed(change.external_id, change.target.available, change.target.quantity, ref)
