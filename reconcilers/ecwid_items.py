"""Ecwid products and variations as our values (pure: no I/O): external ids, the stock fields of a
product or variation, the absolute PUT body of a change, and webhook events. See reconcilers/ecwid.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from daemon.errors import InputError
from daemon.model import Change, Observed
from daemon.store_values import out_of_range, whole_count
from reconcilers.observations import counted, unenforceable

Target = tuple[int, int | None]  # (product id, variation id)
UNLIMITED = "unlimited"  # platform_ref key: the store showed `unlimited: true` when observed
PREORDER = "ALLOW_PREORDER"  # outOfStockVisibilityBehaviour that keeps selling at 0
# the product events that may change stock (an order's stock decrease arrives as product.updated)
PRODUCT_EVENTS = frozenset({"product.updated", "product.created", "product.deleted"})


def item_unit(external_id: str) -> str:
    """Every item is its own write unit: one PUT names one product or one variation."""
    return external_id


def product_of_item(external_id: str) -> str:
    """The product an item belongs to (a product webhook names only the product)."""
    return external_id.partition(":")[0]


def target_of(external_id: str) -> Target | None:
    """'12' → (12, None); '12:34' → (12, 34) (product id : variation id); anything else → None."""
    product, colon, variation = external_id.partition(":")
    product_id = ecwid_id(product)
    if product_id is None or not colon:
        return None if product_id is None else (product_id, None)
    variation_id = ecwid_id(variation)
    return None if variation_id is None else (product_id, variation_id)


def ecwid_id(text: str) -> int | None:
    """A numeric Ecwid id written the way Ecwid writes it back (ASCII digits, no leading zero)."""
    if not (text.isascii() and text.isdigit()) or text.startswith("0") or len(text) > 18:
        return None
    return int(text)


def as_observed(external_id: str, obj: Any) -> Observed:
    """One product or variation object: `unlimited: true` sells without a count (the documented
    answer omits `quantity` then); ALLOW_PREORDER keeps selling at 0, so it cannot be enforced."""
    if not isinstance(obj, Mapping):
        return Observed(external_id, None, None, problem="store value refused: not an Ecwid object")
    if obj.get("unlimited") is True:
        return Observed(external_id, True, None, {UNLIMITED: True}, unlimited=True)
    if obj.get("outOfStockVisibilityBehaviour") == PREORDER:
        why = (
            "sells past 0: outOfStockVisibilityBehaviour is ALLOW_PREORDER (pre-orders), so a count "
            "cannot stop sales; switch it to SHOW or HIDE in the store"
        )
        return unenforceable(external_id, why, {UNLIMITED: False})
    quantity = obj.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int | float):
        return Observed(external_id, None, None, problem="store value refused: Ecwid quantity missing")
    count = whole_count(quantity)
    if count is None:
        return Observed(external_id, None, None, problem=out_of_range(quantity))
    return counted(external_id, count > 0, count, {UNLIMITED: False})


def put_body(change: Change, in_stock_quantity: int) -> dict[str, Any] | None:
    """The absolute update of one item; `unlimited: false` always goes with the count, because Ecwid
    ignores `quantity` on an unlimited item (the write would silently not happen). None: nothing to
    write (status mode, available, and the store already sells it without a count: it stays so)."""
    target = change.target
    if target.quantity is not None:  # quantity mode: the count we manage, a sold-out item 0
        return {"quantity": max(target.quantity, 0) if target.available else 0, "unlimited": False}
    if not target.available:
        return {"quantity": 0, "unlimited": False}
    if (change.platform_ref or {}).get(UNLIMITED) is True:
        return None
    return {"quantity": in_stock_quantity, "unlimited": False}


def written(change: Change, body: Mapping[str, Any] | None) -> Observed:
    """What the store shows after an accepted PUT (Ecwid answers only `updateCount`)."""
    if body is None:
        return Observed(change.external_id, True, None, {UNLIMITED: True}, unlimited=True)
    quantity = int(body["quantity"])
    return Observed(change.external_id, quantity > 0, quantity, {UNLIMITED: False})


def event_fields(event: Any, store_id: str) -> tuple[str, int, str, int | None] | None:
    """(event id, eventCreated, eventType, entityId) of a webhook event; None when it is another
    store's. InputError names the field that is missing or malformed."""
    if not isinstance(event, Mapping):
        raise InputError("webhook", "body", "must be a JSON object")
    event_id = event.get("eventId")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 100:
        raise InputError("webhook", "eventId", "missing or not a string of at most 100 characters")
    created = event.get("eventCreated")
    if isinstance(created, bool) or not isinstance(created, int) or not 0 < created < 10**11:
        raise InputError("webhook", "eventCreated", "missing or not a unix time in seconds")
    event_type = event.get("eventType")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 100:
        raise InputError("webhook", "eventType", "missing or not a string")
    store = event.get("storeId")
    if isinstance(store, bool) or not isinstance(store, int | str) or not str(store).strip():
        raise InputError("webhook", "storeId", "missing or not a store id")
    if str(store).strip() != store_id:
        return None
    entity = event.get("entityId")
    entity_id = entity if isinstance(entity, int) and not isinstance(entity, bool) else None
    return event_id, created, event_type, entity_id


def event_time(created: int) -> datetime:
    return datetime.fromtimestamp(created, UTC)
