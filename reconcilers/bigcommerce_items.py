"""BigCommerce inventory items as our values (pure: no I/O): external ids, what a location's inventory
row means for sale, absolute adjustment entries, the items a refused adjustment names, and the items
a webhook names. See reconcilers/bigcommerce.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from daemon.errors import InputError
from daemon.model import Change, Observed
from daemon.store_values import INT4_MAX, out_of_range, whole_count
from reconcilers.batching import cannot_enforce
from reconcilers.observations import counted, unenforceable
from reconcilers.transport import TemporaryError

_ID = re.compile(r"[1-9][0-9]{0,17}")
# the identities a 422 title names, e.g. "[Item with variant_id 106 is tracked by product, ...]"
_NAMED = re.compile(r"\b(variant_id|product_id)\D{0,3}(\d{1,18})\b")
UNTRACKED = "inventory tracking is off (inventory_tracking none): BigCommerce sells it without a count"
# the platform_ref key of an item the store will not sell whatever its count (see blocked_reason)
BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class ItemKey:
    """An external id: "<product_id>" (stock tracked by product) or "<product_id>:<variant_id>"."""

    product_id: int
    variant_id: int | None

    @property
    def identity(self) -> dict[str, int]:
        """How the Inventory API names the item."""
        return {"variant_id": self.variant_id} if self.variant_id else {"product_id": self.product_id}


def parse_external_id(external_id: str) -> ItemKey | None:
    product, sep, variant = external_id.partition(":")
    if not _ID.fullmatch(product) or (sep and not _ID.fullmatch(variant)):
        return None
    return ItemKey(int(product), int(variant) if sep else None)


def tracking_problem(key: ItemKey, tracking: Any) -> str | None:
    """Why an external id cannot be written the way its product tracks stock (None: it can)."""
    if tracking == "product" and key.variant_id is not None:
        return (
            f"product {key.product_id} tracks inventory by product: map the external id "
            f"'{key.product_id}' (a count per variant cannot be written)"
        )
    if tracking == "variant" and key.variant_id is None:
        return (
            f"product {key.product_id} tracks inventory per variant: map each variant as "
            f"'{key.product_id}:<variant_id>'"
        )
    if tracking not in ("product", "variant", "none"):
        return f"product {key.product_id}: unknown inventory_tracking {str(tracking)[:40]!r}"
    return None


def as_observed(
    external_id: str, key: ItemKey, product: Mapping[str, Any], row: Mapping[str, Any] | None, location: int
) -> Observed | None:
    """What the item shows at our location; None when the store has no such item there."""
    tracking = product.get("inventory_tracking")
    if tracking == "none":  # sells without a count; never written (cannot_enforce: apply refuses it)
        return Observed(external_id, True, None, cannot_enforce(None, UNTRACKED), unlimited=True)
    problem = tracking_problem(key, tracking)
    if problem is not None:
        return unenforceable(external_id, problem)
    if row is None:
        return None
    settings = member(row, "settings")
    ats, safety = row.get("available_to_sell"), settings.get("safety_stock", 0)
    if isinstance(ats, bool) or not isinstance(ats, int | float) or type(safety) is not int:
        return unenforceable(external_id, "store value refused: available_to_sell is not a whole number")
    count = ats if isinstance(ats, int) else whole_count(ats)
    if count is None:  # a JSON number too long for int() arrives as an infinite float
        return Observed(external_id, None, None, problem=out_of_range(ats))
    ref: dict[str, Any] = {"safety_stock": safety} if safety else {}
    blocked = blocked_reason(product, settings, location)
    if blocked is not None:
        ref[BLOCKED] = blocked
    return counted(external_id, blocked is None and count > 0, count, ref or None)


def blocked_reason(product: Mapping[str, Any], settings: Mapping[str, Any], location: int) -> str | None:
    """Why the storefront does not sell the item whatever its count (None: the count decides)."""
    if settings.get("is_in_stock") is False:
        return f"is_in_stock is off at location {location}: not sold whatever its count (turn it on)"
    if product.get("availability") == "disabled":
        return "the product's availability is 'disabled': not sold whatever its count"
    return None


def member(parent: Any, name: str) -> dict[str, Any]:
    """parent[name] when both are JSON objects, else an empty one (answers are read defensively)."""
    value = parent.get(name) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def row_key(row: Mapping[str, Any], kind: str, ids: set[int]) -> tuple[int, int | None] | None:
    """A location row keyed like ItemKey (product, variant or None); None: not one we asked for. A
    variant row is keyed by its product too: a variant of another product is not ours."""
    identity = member(row, "identity")
    product, variant = identity.get("product_id"), identity.get("variant_id")
    if type(product) is not int:
        return None
    if kind == "product_id":
        return (product, None) if product in ids else None
    return (product, variant) if type(variant) is int and variant in ids else None


def page_of(body: Any, path: str) -> tuple[list[dict[str, Any]], int | None]:
    """A list answer's objects and its page count (`meta.pagination.total_pages`, None if absent)."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise TemporaryError(f"bigcommerce: GET {path} did not answer a data list")
    pages = member(member(body, "meta"), "pagination").get("total_pages")
    items = [item for item in body["data"] if isinstance(item, dict)]
    return items, pages if isinstance(pages, int) and not isinstance(pages, bool) else None


def adjustment(change: Change, key: ItemKey, location: int, in_stock_quantity: int) -> dict[str, Any]:
    """The absolute adjustment entry: on hand = the count to sell + the location's safety stock (so
    available_to_sell shows the count); status mode sells `in_stock_quantity`; unavailable is 0."""
    target = change.target
    if not target.available:
        shown = 0
    else:
        shown = max(target.quantity if target.quantity is not None else in_stock_quantity, 0)
    safety = (change.platform_ref or {}).get("safety_stock", 0)
    on_hand = min(shown + safety, INT4_MAX) if shown > 0 and isinstance(safety, int) else shown
    return {"location_id": location, **key.identity, "quantity": on_hand}


def confirmed(change: Change, entry: Mapping[str, Any]) -> Observed:
    """What the store shows once the adjustment is processed (BigCommerce answers a transaction id)."""
    safety = (change.platform_ref or {}).get("safety_stock", 0)
    shown = entry["quantity"] - safety if entry["quantity"] > 0 and isinstance(safety, int) else 0
    return Observed(change.external_id, shown > 0, shown, change.platform_ref)


def named_in(title: str, entries: Sequence[Mapping[str, Any]]) -> set[int]:
    """Indexes of the entries a refusal's title names by variant_id / product_id."""
    named = {(kind, int(number)) for kind, number in _NAMED.findall(title[:2000])}
    return {
        index
        for index, entry in enumerate(entries)
        if any((kind, entry.get(kind)) in named for kind in ("variant_id", "product_id"))
    }


def webhook_items(data: Any, scope: str) -> list[Observed]:
    """The external ids a notification names; their values are unknown (the bodies carry ids only).
    A variant-level change names "<product>:<variant>" and, for stock tracked by product, "<product>"."""
    if not isinstance(data, dict):
        raise InputError("webhook", "data", "missing or not an object")
    ids = member(data, "inventory") or data
    product = _webhook_id(ids, "product_id", scope)
    variant = _webhook_id(ids, "variant_id", scope, required=False)
    names = [f"{product}:{variant}"] if variant is not None else []
    return [Observed(name, None) for name in [*names, str(product)]]


def _webhook_id(ids: Mapping[str, Any], name: str, scope: str, *, required: bool = True) -> int | None:
    value = ids.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**18:
        raise InputError("webhook", f"data.{name}", f"missing or not a positive integer id ({scope[:60]})")
    return value


def webhook_location(data: Any) -> int:
    """The location a location-aware notification names."""
    location = member({"data": data}, "data").get("location_id")
    if isinstance(location, bool) or not isinstance(location, int):
        raise InputError("webhook", "data.location_id", "missing or not an integer id")
    return location


def webhook_created_at(payload: Mapping[str, Any]) -> datetime | None:
    """`created_at`: unix seconds (the platform's time of the event); None when absent."""
    stamp = payload.get("created_at")
    if stamp is None:
        return None
    if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 < stamp < 10**11:
        raise InputError("webhook", "created_at", "not unix seconds")
    return datetime.fromtimestamp(stamp, UTC)
