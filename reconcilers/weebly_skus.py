"""Weebly store SKUs as our values (pure: no I/O): external ids, the `inventory` of a SKU, the partial
PATCH body of a change, and the signed webhook envelope. See reconcilers/weebly.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from daemon.errors import InputError
from daemon.model import Change, Observed
from daemon.store_values import out_of_range, whole_count
from reconcilers.observations import counted

UNTRACKED = "untracked"  # platform_ref key: the SKU showed `inventory: null` (sold without a count)
# the events that name a product whose SKUs (and their inventory) may have changed
PRODUCT_EVENTS = frozenset({"store.product.update", "store.product.create", "store.product.delete"})
# the signed fields, in the documented order ("Fields will be in the same order as the list above")
SIGNED_FIELDS = ("client_id", "client_version", "event", "timestamp", "data")
BAD_ID = "external id must be '<product_id>:<product_sku_id>' (Weebly's numeric ids)"


def item_unit(external_id: str) -> str:
    """Every SKU is its own write unit: one PATCH names one SKU of one product."""
    return external_id


def product_of_item(external_id: str) -> str:
    """The product a SKU belongs to (a store.product.* webhook names only the product)."""
    return external_id.partition(":")[0]


def weebly_id(text: str) -> bool:
    """A numeric Weebly id as it goes into a URL path (ASCII digits, bounded)."""
    return 0 < len(text) <= 20 and text.isascii() and text.isdigit()


def target_of(external_id: str) -> tuple[str, str] | None:
    """'32:1' → ('32', '1') (product_id, product_sku_id: unique only within its product); else None."""
    product, colon, sku = external_id.partition(":")
    if not colon or not weebly_id(product) or not weebly_id(sku):
        return None
    return product, sku


def as_observed(external_id: str, sku: Any) -> Observed:
    """One SKU object. `inventory: null` is an untracked SKU: it sells without a count (Weebly includes
    blank fields as null; a product created without inventory reads back `inventory: null`)."""
    if not isinstance(sku, Mapping) or "inventory" not in sku:
        return Observed(
            external_id, None, None, problem="store value refused: SKU without an inventory field"
        )
    inventory = sku["inventory"]
    if inventory is None:
        return Observed(external_id, True, None, {UNTRACKED: True}, unlimited=True)
    if isinstance(inventory, bool) or not isinstance(inventory, int | float):
        return Observed(external_id, None, None, problem="store value refused: SKU inventory is not a number")
    count = whole_count(inventory)
    if count is None:
        return Observed(external_id, None, None, problem=out_of_range(inventory))
    return counted(external_id, count > 0, count, {UNTRACKED: False})


def patch_body(change: Change, in_stock_quantity: int) -> dict[str, int] | None:
    """The partial update of one SKU: `inventory` only, so price, weight and the rest stay as they are
    (a PUT would reset every field it does not name). None: nothing to write (status mode, available,
    and the SKU already sells untracked: it stays untracked)."""
    target = change.target
    if target.quantity is not None:  # quantity mode: the count we manage, a sold-out item 0
        return {"inventory": max(target.quantity, 0) if target.available else 0}
    if not target.available:
        return {"inventory": 0}
    if (change.platform_ref or {}).get(UNTRACKED) is True:
        return None
    return {"inventory": in_stock_quantity}


def untracked_kept(change: Change) -> Observed:
    """What the store shows when an available, untracked SKU is left as it is."""
    return Observed(change.external_id, True, None, {UNTRACKED: True}, unlimited=True)


def signed_messages(event: Mapping[str, Any]) -> list[bytes]:
    """The bytes the webhook `hmac` covers: the five fields in their documented order as compact JSON.
    Weebly's own examples differ in escaping (PHP json_encode writes '\\/' and \\u escapes, Node's
    JSON.stringify neither), so both spellings are tried; each still needs the app secret."""
    signed = {name: event.get(name) for name in SIGNED_FIELDS}
    plain = json.dumps(signed, separators=(",", ":"), ensure_ascii=False)
    php = json.dumps(signed, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")
    return list(dict.fromkeys([plain.encode(), php.encode()]))


def event_fields(event: Any, site_id: str) -> tuple[str, datetime, str | None] | None:
    """(event name, its time, product_id) of a webhook; None when it concerns another site (one app
    callback URL serves every site that installed the app). InputError names the bad field."""
    if not isinstance(event, Mapping):
        raise InputError("webhook", "body", "must be a JSON object")
    name = event.get("event")
    if not isinstance(name, str) or not name or len(name) > 100:
        raise InputError("webhook", "event", "missing or not a string")
    stamp = event.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 < stamp < 10**11:
        raise InputError("webhook", "timestamp", "missing or not a unix time in seconds")
    data = event.get("data")
    if not isinstance(data, Mapping):
        raise InputError("webhook", "data", "missing or not an object")
    site = data.get("site_id")
    if isinstance(site, bool) or not isinstance(site, str | int) or not str(site).strip():
        raise InputError("webhook", "data.site_id", "missing or not a site id")
    if str(site).strip() != site_id:
        return None
    product = data.get("product_id")
    if product is not None and (isinstance(product, bool) or not weebly_id(str(product))):
        raise InputError("webhook", "data.product_id", "not a Weebly product id")
    return name, datetime.fromtimestamp(stamp, UTC), None if product is None else str(product)
