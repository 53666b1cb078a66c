"""Nuvemshop / Tiendanube product variants as our values (pure: no I/O). See reconcilers/nuvemshop.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.model import Change, Observed
from reconcilers.observations import counted, unenforceable


def parse_external_id(external_id: str) -> tuple[int, int] | None:
    """(product id, variant id) from "<product id>:<variant id>", None when malformed."""
    product, sep, variant = external_id.partition(":")
    if not sep or not (numeric_id(product) and numeric_id(variant)):
        return None
    return int(product), int(variant)


def product_unit(external_id: str) -> str:
    """The write unit: PATCH /products/{id}/variants writes variants of one product only."""
    return external_id.partition(":")[0]


def numeric_id(text: str) -> bool:
    """A Nuvemshop id as text: decimal digits that fit a bigint."""
    return text.isascii() and text.isdigit() and 0 < len(text) <= 19


def as_observed(external_id: str, variant: Any, location_id: str | None) -> Observed:
    """A variant object as we read it: `stock` null (stock_management false) sells without a count;
    with a location set, that location's inventory level is the count we own."""
    if not isinstance(variant, Mapping):
        return unenforceable(external_id, "Nuvemshop answered a variant that is not an object")
    managed = variant.get("stock_management")
    levels = variant.get("inventory_levels")
    if location_id is not None:
        level = _level(levels, location_id)
        if level is None:
            return unenforceable(external_id, f"the variant has no inventory level at location {location_id}")
        stock = level.get("stock")
    elif isinstance(levels, list) and len(levels) > 1:
        return unenforceable(
            external_id,
            f"stock is spread over {len(levels)} locations: set settings.location_id to the one to follow",
        )
    else:
        stock = variant.get("stock")
    if managed is False or stock is None:
        return counted(external_id, True, None, unlimited=True)  # infinite stock: sells without a count
    if not isinstance(stock, int) or isinstance(stock, bool):
        return unenforceable(external_id, f"Nuvemshop stock {str(stock)[:40]!r} is not a whole number")
    return counted(external_id, stock > 0, stock)  # a count beyond int4: the kit's per-item problem


def _level(levels: Any, location_id: str) -> Mapping[str, Any] | None:
    if not isinstance(levels, list):
        return None
    for level in levels:
        if isinstance(level, Mapping) and str(level.get("location_id")) == location_id:
            return level
    return None


def stock_for(change: Change, in_stock_quantity: int) -> int | None:
    """The absolute stock to write: 0 when unsellable, the count in quantity mode, `in_stock_quantity`
    in status mode, None (infinite) only when the target itself is unlimited."""
    target = change.target
    if not target.available:
        return 0
    if target.unlimited:
        return None
    return max(target.quantity, 0) if target.quantity is not None else in_stock_quantity


def variant_patch(variant_id: int, stock: int | None, location_id: str | None) -> dict[str, Any]:
    """One element of the PATCH body: the variant's stock, or its level at our location."""
    if location_id is None:
        return {"id": variant_id, "stock": stock}
    return {"id": variant_id, "inventory_levels": [{"location_id": location_id, "stock": stock}]}
