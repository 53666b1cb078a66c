"""TikTok Shop SKU inventory as our values (pure: no I/O). See reconcilers/tiktok.py.

Ids are decimal strings of up to ~21 digits (beyond a JSON double): they stay text from end to end,
and an answer or notification naming one as a JSON number is malformed input, never converted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daemon.model import Change, Observed
from reconcilers.observations import counted, unenforceable

MAX_QUANTITY = 99_999  # per SKU per warehouse (Update Inventory)
WAREHOUSE = "warehouse_id"  # the platform_ref key of the one warehouse a SKU is stocked in


def text_id(value: Any) -> bool:
    """A TikTok id as TikTok sends it: a string of ASCII digits (at most 24)."""
    return isinstance(value, str) and value.isascii() and value.isdigit() and 0 < len(value) <= 24


def parse_external_id(external_id: str) -> tuple[str, str] | None:
    """(product id, SKU id) from "<product id>:<sku id>", None when malformed."""
    product, sep, sku = external_id.partition(":")
    return (product, sku) if sep and text_id(product) and text_id(sku) else None


def product_unit(external_id: str) -> str:
    """The write unit: one Update Inventory call writes SKUs of one product only."""
    return external_id.partition(":")[0]


def skus_by_id(data: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """{SKU id: (its product id, its inventory object)} from an Inventory Search `data`; raises
    ValueError when the answer names an id as anything but text."""
    found: dict[str, tuple[str, Mapping[str, Any]]] = {}
    products = data.get("inventory")
    for product in products if isinstance(products, list) else []:
        if not isinstance(product, Mapping):
            continue
        product_id, skus = product.get("product_id"), product.get("skus")
        if not text_id(product_id):
            raise ValueError("an inventory entry's product_id is not an id string")
        for sku in skus if isinstance(skus, list) else []:
            if isinstance(sku, Mapping):
                sku_id = sku.get("id")
                if not isinstance(sku_id, str) or not text_id(sku_id):
                    raise ValueError("an inventory SKU's id is not an id string")
                found[sku_id] = (str(product_id), sku)
    return found


def as_observed(external_id: str, sku: Mapping[str, Any], warehouse_id: str | None) -> Observed:
    """One SKU's stock: the available quantity of its one warehouse (the value Update Inventory sets).
    A SKU stocked in several warehouses cannot be enforced: an update must restate every warehouse's
    quantity, which would overwrite counts we do not own."""
    rows = [r for r in sku.get("warehouse_inventory") or [] if isinstance(r, Mapping)]
    if not rows:
        return unenforceable(external_id, "the SKU has no warehouse: TikTok refuses stock for it")
    if len(rows) > 1:
        return unenforceable(
            external_id,
            f"the SKU is stocked in {len(rows)} warehouses; an update must restate them all, "
            "overwriting counts stocksync does not own",
        )
    row = rows[0]
    shown_in = row.get("warehouse_id")
    if not text_id(shown_in):
        return unenforceable(external_id, "TikTok answered a warehouse without an id string")
    if warehouse_id is not None and shown_in != warehouse_id:
        return unenforceable(external_id, f"the SKU is stocked in warehouse {shown_in}, not {warehouse_id}")
    quantity = row.get("available_quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        return unenforceable(external_id, f"TikTok quantity {str(quantity)[:40]!r} is not a whole number")
    return counted(external_id, quantity > 0, quantity, {WAREHOUSE: shown_in})


def quantity_for(change: Change, in_stock_quantity: int) -> int:
    """The absolute count to write: 0 when unsellable, the count (at most 99,999) in quantity mode,
    `in_stock_quantity` in status mode and for an unlimited target (TikTok has no unlimited stock)."""
    target = change.target
    if not target.available:
        return 0
    wanted = in_stock_quantity if target.unlimited or target.quantity is None else target.quantity
    return min(max(wanted, 0), MAX_QUANTITY)


def update_body(rows: Sequence[tuple[str, int, str | None]]) -> dict[str, Any]:
    """The Update Inventory body for (SKU id, quantity, warehouse id or None) rows of one product."""
    skus = []
    for sku_id, quantity, warehouse_id in rows:
        level: dict[str, Any] = {"quantity": quantity}
        if warehouse_id is not None:
            level["warehouse_id"] = warehouse_id
        skus.append({"id": sku_id, "inventory": [level]})
    return {"skus": skus}


def sku_errors(data: Mapping[str, Any]) -> dict[str | None, tuple[int | None, str]]:
    """{SKU id (None: the request as a whole): (code, message)} from an update's `data.errors`."""
    refused: dict[str | None, tuple[int | None, str]] = {}
    errors = data.get("errors")
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, Mapping):
            continue
        detail = error.get("detail")
        sku = detail.get("sku_id") if isinstance(detail, Mapping) else None
        code = error.get("code")
        said = " ".join(str(error.get("message") or "").split())[:160]
        refused[sku if text_id(sku) else None] = (code if isinstance(code, int) else None, said)
    return refused
