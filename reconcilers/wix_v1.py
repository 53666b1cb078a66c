"""Wix Stores Catalog V1 inventory as our values (pure: no I/O). See reconcilers/wix.py.

V1 keeps one inventory item per product: `trackQuantity` for the whole product and `variants[]` of
{variantId, quantity, inStock}. Variant ids repeat across products (a product without options has
the variant 00000000-0000-0000-0000-000000000000), so V1 external ids are "<productId>:<variantId>".
The write is `PATCH /stores/v2/inventoryItems/product/{productId}` (absolute values, one product per
call, an empty answer); `trackQuantity` must always be sent as read: left out, it means false and
switches the tracking of every variant of the product.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.model import Change, ItemFailure, Observed
from reconcilers.observations import counted, unenforceable

PRODUCT = "product_id"  # platform_ref keys: the product and whether it tracks quantities
TRACKED = "track_quantity"
PAGE_LIMIT = 100  # V1 query paging.limit maximum
PREORDER = "pre-orders enabled: Wix keeps selling it at 0 (turn pre-orders off to sync it)"


def split_id(external_id: str) -> tuple[str, str] | None:
    product, sep, variant = external_id.partition(":")
    return (product, variant) if sep and product and variant and ":" not in variant else None


def product_unit(external_id: str) -> str:
    """The write unit: a V1 product; Catalog V3 ids (a variant id alone) share one bulk call."""
    key = split_id(external_id)
    return key[0] if key else ""


def query_body(product_ids: Sequence[str], offset: int) -> dict[str, Any]:
    """V1 queries take the filter as a JSON string."""
    query_filter = json.dumps({"productId": {"$in": list(product_ids)}}, separators=(",", ":"))
    return {"query": {"filter": query_filter, "paging": {"limit": PAGE_LIMIT, "offset": offset}}}


def as_observed(external_id: str, item: Mapping[str, Any], variant: Mapping[str, Any]) -> Observed:
    ref = {PRODUCT: item.get("productId"), TRACKED: item.get("trackQuantity") is True}
    if variant.get("availableForPreorder") is True or (item.get("preorderInfo") or {}).get("enabled") is True:
        return unenforceable(external_id, PREORDER, ref)
    if ref[TRACKED]:
        quantity = variant.get("quantity", 0)
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            return unenforceable(external_id, "store value refused: Wix quantity is not a whole number", ref)
        return counted(external_id, quantity > 0, quantity, ref)
    if variant.get("inStock", False) is True:  # not tracked and in stock: sells without a limit
        return Observed(external_id, True, None, ref, unlimited=True)
    return Observed(external_id, False, None, ref)


def observed_in(items: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Observed]:
    """Every variant of V1 inventory items, keyed by (product id, variant id)."""
    found: dict[tuple[str, str], Observed] = {}
    for item in items:
        for variant in item.get("variants") or []:
            if isinstance(variant, Mapping):
                key = (str(item.get("productId")), str(variant.get("variantId")))
                found[key] = as_observed(":".join(key), item, variant)
    return found


def patch_body(
    changes: Sequence[Change], in_stock_quantity: int
) -> tuple[dict[str, Any] | None, list[Change], list[ItemFailure]]:
    """The PATCH body for one product's changes, the changes it carries and those refused."""
    sent: list[Change] = []
    refused: list[ItemFailure] = []
    variants: list[dict[str, Any]] = []
    tracked: bool | None = None
    for change in changes:
        ref = change.platform_ref or {}
        key = split_id(change.external_id)
        if key is None or not isinstance(ref.get(TRACKED), bool):
            refused.append(ItemFailure(change.external_id, "product tracking unknown: observe first", True))
            continue
        if change.target.quantity is not None and not ref[TRACKED]:
            why = "the product tracks no quantities: turning tracking on would change all its variants"
            refused.append(ItemFailure(change.external_id, why, permanent=True))
            continue
        tracked = bool(ref[TRACKED])
        entry: dict[str, Any] = {"variantId": key[1]}
        target = change.target
        if not tracked:
            entry["inStock"] = bool(target.available)
        elif target.quantity is not None:
            entry["quantity"] = max(target.quantity, 0) if target.available else 0
        else:
            entry["quantity"] = in_stock_quantity if target.available else 0
        variants.append(entry)
        sent.append(change)
    if not sent:
        return None, sent, refused
    return {"inventoryItem": {"trackQuantity": tracked, "variants": variants}}, sent, refused


def confirmed(change: Change, entry: Mapping[str, Any]) -> Observed:
    """The answer is an empty object: what we sent is what the product now holds."""
    ref = dict(change.platform_ref or {})
    if "quantity" in entry:
        return counted(change.external_id, entry["quantity"] > 0, entry["quantity"], ref)
    return Observed(change.external_id, entry["inStock"], None, ref, unlimited=entry["inStock"])
