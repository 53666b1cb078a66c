"""Webflow SKU inventory objects as our values (pure: no I/O): external ids, PATCH bodies, and what an
inventory object (`{id, quantity, inventoryType}`) means for sale. See reconcilers/webflow.py."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from daemon.errors import InputError
from daemon.model import Change, Observed
from daemon.store_values import out_of_range
from reconcilers.observations import counted, unenforceable
from reconcilers.webhook_json import bounded_decimal

# Webflow item ids are MongoDB ObjectIds (the spec's `format: objectid`): 24 hexadecimal digits
_SKU_ID = re.compile(r"[0-9a-fA-F]{24}")
FINITE, INFINITE = "finite", "infinite"
BAD_ID = "external id must be a Webflow SKU item id (24 hexadecimal digits)"
INFINITE_PROBLEM = (
    "inventory type is infinite: Webflow sells this SKU without a count; set its inventory to "
    "tracked (finite) in Webflow to let stocksync control it (stocksync never switches it)"
)


class BadInventoryError(Exception):
    """An inventory object we cannot read (the message says which field and why)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def sku_id(external_id: str) -> str | None:
    """The SKU item id an external id names, None when it is not one (never put into a URL)."""
    return external_id if _SKU_ID.fullmatch(external_id) else None


def unit_of(external_id: str) -> str:
    """Write unit: one SKU per PATCH (the inventory API has no batch write)."""
    return external_id


def patch_body(change: Change, in_stock_quantity: int) -> dict[str, Any]:
    """The absolute update (`quantity`, never the relative `updateQuantity`: a retried PATCH must not
    add twice). Always `finite`: observe() made infinite SKUs problems, so they never get here."""
    target = change.target
    if not target.available:
        quantity = 0
    elif target.quantity is None:  # status mode: a count that makes the SKU sellable
        quantity = in_stock_quantity
    else:
        quantity = max(target.quantity, 0)
    return {"inventoryType": FINITE, "quantity": quantity}


def as_observed(external_id: str, inventory: Any, ref: Mapping[str, Any] | None = None) -> Observed:
    """What an inventory object shows; unreadable values are that item's problem, not an exception."""
    try:
        kind, quantity = read_inventory(inventory)
    except BadInventoryError as exc:
        refused = (
            exc.reason
            if exc.reason.startswith("store value refused")
            else f"store value refused: Webflow {exc}"
        )
        return unenforceable(external_id, refused, ref)
    return observed_from(external_id, kind, quantity, ref)


def observed_from(
    external_id: str, kind: str, quantity: Decimal | None, ref: Mapping[str, Any] | None = None
) -> Observed:
    if kind == INFINITE:
        return unenforceable(external_id, INFINITE_PROBLEM, ref)
    assert quantity is not None  # read_inventory requires a count for finite stock
    if quantity != quantity.to_integral_value():
        return unenforceable(external_id, f"store value refused: quantity {quantity} is not whole", ref)
    if abs(quantity.adjusted()) > 9:
        return Observed(external_id, None, None, dict(ref) if ref else None, problem=out_of_range(quantity))
    count = int(quantity)
    return counted(external_id, count > 0, count, ref)


def read_inventory(inventory: Any, where: str = "inventory") -> tuple[str, Decimal | None]:
    """(inventoryType, quantity) of an inventory object; the quantity only for finite stock."""
    if not isinstance(inventory, Mapping):
        raise BadInventoryError(where, "not an object")
    kind = inventory.get("inventoryType")
    if kind not in (FINITE, INFINITE):
        raise BadInventoryError("inventoryType", "must be 'finite' or 'infinite'")
    if kind == INFINITE:
        return kind, None
    raw = inventory.get("quantity")
    if raw is None:
        raise BadInventoryError("quantity", "missing for finite inventory")
    try:  # bounded before any arithmetic: a huge exponent must not become a huge integer
        return kind, bounded_decimal(raw, "quantity", where)
    except InputError as exc:
        if exc.reason == "not a number":
            raise BadInventoryError("quantity", "not a number") from None
        raise BadInventoryError("quantity", out_of_range(raw)) from None
