"""Squarespace InventoryItems as our values (pure: no I/O): variant ids, observations, and the
adjustment operations a batch of changes becomes. See reconcilers/squarespace.py."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.model import Change, Observed
from daemon.store_values import out_of_range
from reconcilers.observations import counted, unenforceable

# platform_ref key: this variant sells without a count when it is available. Set while it is
# unlimited and kept while we hold it at 0, so status mode gives an unlimited (POD) variant its
# unlimited stock back instead of inventing a count for it.
SELLS_UNLIMITED = "sells_unlimited"
# Squarespace ids are GUIDs; anything that would break a comma-separated path segment is refused
_VARIANT_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class BadAnswerError(Exception):
    """An inventory answer we cannot read as a whole (the message says why)."""


def valid_variant_id(external_id: str) -> bool:
    return bool(_VARIANT_ID.match(external_id))


def inventory_items(body: Any) -> dict[str, Mapping[str, Any]]:
    """The `inventory` array of a lookup or listing page, by variantId (null counts as empty)."""
    if not isinstance(body, dict):
        raise BadAnswerError("inventory answer is not a JSON object")
    items = body.get("inventory")
    if items is None:
        return {}
    if not isinstance(items, list):
        raise BadAnswerError("inventory answer has no `inventory` array")
    found: dict[str, Mapping[str, Any]] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("variantId"), str):
            found[item["variantId"]] = item
    return found


def next_cursor(body: Any) -> str | None:
    """pagination.nextPageCursor while pagination.hasNextPage is true."""
    pagination = body.get("pagination") if isinstance(body, dict) else None
    if not isinstance(pagination, dict) or pagination.get("hasNextPage") is not True:
        return None
    cursor = pagination.get("nextPageCursor")
    if not isinstance(cursor, str) or not cursor:
        raise BadAnswerError("pagination.hasNextPage without a nextPageCursor")
    return cursor


def as_observed(external_id: str, item: Mapping[str, Any], known: Mapping[str, Any] | None) -> Observed:
    """What an InventoryItem shows: unlimited (sells without a count) or its quantity; 0 is out."""
    unlimited = item.get("isUnlimited")
    if unlimited is True:
        # `quantity` of an unlimited item is its last count before: never read as stock
        return Observed(external_id, True, None, {SELLS_UNLIMITED: True}, unlimited=True)
    if unlimited is not False:
        return unenforceable(external_id, "store value refused: Squarespace isUnlimited is not true/false")
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int | float):
        return unenforceable(external_id, "store value refused: Squarespace quantity is not a number")
    if isinstance(quantity, float):
        if not math.isfinite(quantity):  # an integer too long to read (transport): out of range
            return Observed(external_id, None, None, problem=out_of_range(quantity))
        if not quantity.is_integer():
            return unenforceable(
                external_id, "store value refused: Squarespace quantity is not a whole number"
            )
        quantity = int(quantity)
    held = bool((known or {}).get(SELLS_UNLIMITED)) and quantity == 0
    return counted(external_id, quantity > 0, quantity, {SELLS_UNLIMITED: held})


def was_unlimited(change: Change) -> bool:
    """The variant is unlimited now, or was before we held it at 0."""
    shown_unlimited = change.expected is not None and change.expected.unlimited
    return shown_unlimited or bool((change.platform_ref or {}).get(SELLS_UNLIMITED))


def adjustments(batch: Sequence[Change], in_stock_quantity: int) -> tuple[dict[str, Any], list[Observed]]:
    """The adjustments body for a batch (absolute operations only: setFiniteOperations and
    setUnlimitedOperations, one operation per variant) and what the store shows once it is applied.

    Status mode writes 0 for unavailable and `in_stock_quantity` for available, except that an
    unlimited (POD) variant stays or becomes unlimited again instead of getting a count; quantity mode
    writes the count (0 when unavailable), which is how an unlimited variant is made finite on purpose."""
    finite: list[dict[str, Any]] = []
    unlimited: list[str] = []
    shown: list[Observed] = []
    for change in batch:
        target = change.target
        status_mode = target.quantity is None
        if status_mode and target.available and was_unlimited(change):
            unlimited.append(change.external_id)
            shown.append(Observed(change.external_id, True, None, {SELLS_UNLIMITED: True}, unlimited=True))
            continue
        if not target.available:
            quantity = 0
        else:
            quantity = in_stock_quantity if status_mode else max(target.quantity or 0, 0)
        held = quantity == 0 and was_unlimited(change)  # remembered until a count replaces the 0
        finite.append({"variantId": change.external_id, "quantity": quantity})
        shown.append(counted(change.external_id, quantity > 0, quantity, {SELLS_UNLIMITED: held}))
    body: dict[str, Any] = {}
    if finite:
        body["setFiniteOperations"] = finite
    if unlimited:
        body["setUnlimitedOperations"] = unlimited
    return body, shown
