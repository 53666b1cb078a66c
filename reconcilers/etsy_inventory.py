"""Etsy listing inventories as our values (pure: no I/O): external ids, one product's observation, the
whole-inventory PUT body built from what Etsy showed, and the per-item outcome of its answer.
See reconcilers/etsy.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from daemon.errors import InputError
from daemon.model import Change, Observed
from daemon.store_values import out_of_range
from reconcilers.observations import counted, unenforceable

MAX_OFFERING_QUANTITY = 999  # Etsy refuses a larger quantity on an offering
SELLING = "active"
OFF_SALE = frozenset({"inactive", "sold_out"})  # states we read as "not sold" and may turn back on
# fields of a product / offering / property value that a PUT takes back (the rest is read-only)
_PROPERTY_FIELDS = ("property_id", "property_name", "scale_id", "value_ids", "values")
_ON_PROPERTY = ("price_on_property", "quantity_on_property", "sku_on_property", "readiness_state_on_property")


class InventoryError(Exception):
    """An inventory we cannot rebuild for a PUT without losing something (the message says what)."""


@dataclass(frozen=True, slots=True)
class Listing:
    """One listing as Etsy showed it: its state and its whole inventory (products, *_on_property)."""

    listing_id: int
    state: str
    inventory: Mapping[str, Any]

    def products(self) -> list[dict[str, Any]]:
        raw = self.inventory.get("products")
        items = raw if isinstance(raw, list) else []
        return [p for p in items if isinstance(p, dict) and not p.get("is_deleted")]


def parse_external_id(external_id: str) -> tuple[int, str | None] | None:
    """(listing id, SKU) from "<listing_id>:<sku>", or (listing id, None) from "<listing_id>" (a listing
    with exactly one product); None when malformed."""
    listing, colon, sku = external_id.partition(":")
    if not (listing.isascii() and listing.isdigit()) or len(listing) > 19 or int(listing) < 1:
        return None
    if colon and not sku:
        return None
    return int(listing), (sku if colon else None)


def listing_unit(external_id: str) -> str:
    """One PUT replaces one listing's inventory: the listing is the write unit."""
    return external_id.partition(":")[0]


def read_listings(body: Any) -> dict[int, Listing]:
    """Listings of a getListingsInventoryByListingIds answer ({count, results: [listing + inventory]});
    a result without a readable id, state or inventory is left out (reads as "not found")."""
    results = body.get("results") if isinstance(body, dict) else None
    found: dict[int, Listing] = {}
    for result in results if isinstance(results, list) else []:
        if not isinstance(result, dict):
            continue
        listing_id, state, inventory = result.get("listing_id"), result.get("state"), result.get("inventory")
        if isinstance(listing_id, int) and isinstance(state, str) and isinstance(inventory, dict):
            found[listing_id] = Listing(listing_id, state, inventory)
    return found


def find_product(listing: Listing, sku: str | None) -> dict[str, Any] | str | None:
    """The product an external id names; a reason (str) when it is ambiguous, None when absent."""
    products = listing.products()
    if sku is None:
        if len(products) == 1:
            return products[0]
        return f"listing {listing.listing_id} has {len(products)} products: name one as '<listing_id>:<sku>'"
    named = [p for p in products if p.get("sku") == sku]
    if named and len(products) > 1 and not listing.inventory.get("quantity_on_property"):
        return (
            f"listing {listing.listing_id}: quantities do not vary by variation (quantity_on_property empty)"
        )
    if len(named) > 1:
        return f"SKU {sku!r} is on {len(named)} products of listing {listing.listing_id} (must be unique)"
    return named[0] if named else None


def lacks_readiness(listing: Listing) -> bool:
    """Batch reads may leave readiness_state_id null (Etsy returns it for single-listing reads): a PUT
    built from such an inventory would drop the processing profile."""
    return any(
        (o := offering_of(p)) is not None and o.get("readiness_state_id") is None for p in listing.products()
    )


def offering_of(product: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = product.get("offerings")
    live = (
        [o for o in raw if isinstance(o, dict) and not o.get("is_deleted")] if isinstance(raw, list) else []
    )
    return live[0] if len(live) == 1 else None


def observe_item(external_id: str, listing: Listing, sku: str | None) -> Observed | None:
    """What the storefront sells of one product: its offering's quantity while the listing is active;
    nothing (0) while it is inactive or sold out. None: the listing has no such product."""
    product = find_product(listing, sku)
    if product is None:
        return None
    ref = {"listing_id": listing.listing_id, "state": listing.state}
    if isinstance(product, str):
        return unenforceable(external_id, product, ref)
    offering = offering_of(product)
    quantity = offering.get("quantity") if offering is not None else None
    if offering is None or isinstance(quantity, bool) or not isinstance(quantity, int | float):
        return unenforceable(external_id, "Etsy product without one readable offering quantity", ref)
    if offering.get("is_enabled") is False:
        why = (
            "the offering is disabled in Etsy (is_enabled false): buyers cannot choose it whatever its count"
        )
        return unenforceable(external_id, why, ref)
    if isinstance(quantity, float):  # an integer too long to read (the transport made it infinite)
        return Observed(external_id, None, None, ref, problem=out_of_range(quantity))
    if listing.state == SELLING:
        return counted(external_id, quantity > 0, quantity, ref)
    if listing.state in OFF_SALE:
        return counted(external_id, False, 0, {**ref, "held": quantity})
    return unenforceable(external_id, f"listing is {listing.state!r} on Etsy: publish or renew it there", ref)


def target_quantity(change: Change, in_stock_quantity: int) -> int:
    """The offering quantity that makes the storefront show the target (absolute, never a delta)."""
    target = change.target
    if not target.available:
        return 0
    return max(target.quantity, 0) if target.quantity is not None else in_stock_quantity


def put_body(listing: Listing, quantities: Mapping[int, int], zero_others: bool) -> dict[str, Any]:
    """The whole inventory for a PUT: every product Etsy showed, every field kept as it was (prices,
    SKUs, property values, is_enabled, readiness states, *_on_property), only the quantities of the
    products at `quantities` (index in listing.products()) replaced; `zero_others`: every other
    product's quantity becomes 0 (a listing turned back on sells only what was asked for)."""
    products = []
    for index, product in enumerate(listing.products()):
        offering = offering_of(product)
        if offering is None:
            raise InventoryError(f"listing {listing.listing_id}: a product without exactly one offering")
        quantity = quantities.get(index, 0 if zero_others else offering.get("quantity"))
        entry: dict[str, Any] = {
            "sku": product.get("sku") or "",
            "property_values": [_property(p) for p in product.get("property_values") or []],
            "offerings": [
                {
                    "price": _price(offering.get("price"), listing.listing_id),
                    "quantity": quantity,
                    "is_enabled": offering.get("is_enabled", True),
                    "readiness_state_id": offering.get("readiness_state_id"),
                }
            ],
        }
        products.append(entry)
    body: dict[str, Any] = {"products": products}
    for name in _ON_PROPERTY:
        if isinstance(listing.inventory.get(name), list):
            body[name] = listing.inventory[name]
    return body


def sells_after(body: Mapping[str, Any]) -> bool:
    """Whether an inventory offers anything: Etsy refuses a PUT whose offerings are all 0."""
    return any(
        o.get("is_enabled", True) and isinstance(o.get("quantity"), int) and o["quantity"] > 0
        for p in body["products"]
        for o in p["offerings"]
    )


def _property(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InventoryError("a property value that is not an object")
    return {
        k: value[k] for k in _PROPERTY_FIELDS if k in value and not (k == "scale_id" and value[k] is None)
    }


def _price(price: Any, listing_id: int) -> float:
    """Etsy reads a Money object ({amount, divisor}) and takes a float back."""
    try:
        amount, divisor = Decimal(str(price["amount"])), Decimal(str(price["divisor"]))
        return float(amount / divisor)
    except (KeyError, TypeError, InvalidOperation, ArithmeticError):
        raise InventoryError(f"listing {listing_id}: a price we cannot read back") from None


def answered(
    listing: Listing, changes: Sequence[tuple[Change, str | None, int]]
) -> dict[str, Observed | str]:
    """Per external id: what the PUT answer shows (the new inventory, new product ids), or why not."""
    outcome: dict[str, Observed | str] = {}
    for change, sku, sent in changes:
        seen = observe_item(change.external_id, listing, sku)
        if seen is None or seen.problem is not None or seen.quantity != sent:
            shown = "missing" if seen is None else (seen.problem or f"quantity {seen.quantity}")
            outcome[change.external_id] = f"Etsy's answer does not show quantity {sent} ({shown})"
        else:
            outcome[change.external_id] = seen
    return outcome


_LISTING_IN_URL = re.compile(r"/listings/([0-9]{1,19})(?:/|$)")


def listing_of_resource(url: Any) -> str | None:
    """The listing id a webhook's `resource_url` names (its items are re-read), None if it names none."""
    found = _LISTING_IN_URL.search(str(url or "")[:500])
    return found.group(1) if found else None


def unix_time(stamp: str) -> datetime:
    """A webhook-timestamp header (unix seconds) as an aware time; InputError when it is not one."""
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise InputError("webhook", "webhook-timestamp", "not unix seconds")
    return datetime.fromtimestamp(int(stamp), UTC)
