"""What one Etsy listing write must do (pure: no I/O): the PUT body, whether the listing's state must
change instead or as well, and which items cannot be written. See reconcilers/etsy.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from daemon.errors import ConfigError
from daemon.model import ApplyResult, Change, ItemFailure, Observed
from reconcilers.etsy_inventory import (
    MAX_OFFERING_QUANTITY,
    SELLING,
    InventoryError,
    Listing,
    answered,
    find_product,
    parse_external_id,
    put_body,
    sells_after,
    target_quantity,
)
from reconcilers.settings import StoreSettings

READ_BATCH = 100  # listing ids per getListingsInventoryByListingIds


class Action(StrEnum):
    NOTHING = "nothing"  # already off sale and meant to stay so: confirmed without a request
    DEACTIVATE = "deactivate"  # Etsy refuses all-zero offerings: take the listing off sale instead
    PUT = "put"  # the listing is active and keeps something to sell
    PUT_AND_ACTIVATE = "put_and_activate"  # an inactive (or, when allowed, sold-out) listing sells again


@dataclass
class WritePlan:
    action: Action = Action.NOTHING
    body: dict[str, Any] = field(default_factory=dict)
    items: list[tuple[Change, str | None, int]] = field(default_factory=list)  # change, SKU, quantity
    failed: list[ItemFailure] = field(default_factory=list)


def plan_write(
    listing: Listing, unit: Sequence[Change], in_stock_quantity: int, renew_sold_out: bool
) -> WritePlan:
    """The one request (or two) that writes `unit` to `listing`, from the inventory Etsy showed."""
    plan = WritePlan()
    indexes: dict[int, int] = {}
    products = listing.products()
    for change in unit:
        parsed = parse_external_id(change.external_id)
        product = find_product(listing, parsed[1]) if parsed else None
        quantity = target_quantity(change, in_stock_quantity)
        if isinstance(product, str):  # ambiguous or not writable alone: a problem for support
            plan.failed.append(ItemFailure(change.external_id, product, problem=True))
        elif product is None:
            plan.failed.append(ItemFailure(change.external_id, "no such product on Etsy", permanent=True))
        elif quantity > MAX_OFFERING_QUANTITY:
            why = f"Etsy holds at most {MAX_OFFERING_QUANTITY} per offering (set rules.max_quantity)"
            plan.failed.append(ItemFailure(change.external_id, why, problem=True))
        else:
            indexes[next(i for i, p in enumerate(products) if p is product)] = quantity
            plan.items.append((change, parsed[1] if parsed else None, quantity))
    if not plan.items:
        return plan
    off_sale = listing.state != SELLING
    try:  # a listing turned back on sells only what was asked for: its held counts are stale
        plan.body = put_body(listing, indexes, zero_others=off_sale)
    except InventoryError as exc:
        return _refused(plan, str(exc))
    if not sells_after(plan.body):
        plan.action = Action.DEACTIVATE if not off_sale else Action.NOTHING
    elif not off_sale:
        plan.action = Action.PUT
    elif listing.state == "inactive" or (listing.state == "sold_out" and renew_sold_out):
        plan.action = Action.PUT_AND_ACTIVATE
    elif listing.state == "sold_out":
        return _refused(
            plan, "listing is sold out on Etsy: renewing costs a listing fee (setting renew_sold_out)"
        )
    else:
        return _refused(plan, f"listing is {listing.state!r} on Etsy: publish or renew it there")
    return plan


def off_sale_result(plan: WritePlan, listing_id: int) -> ApplyResult:
    """The items of a listing that sells nothing now: each shows 0."""
    shown = [Observed(c.external_id, False, 0, {"listing_id": listing_id}) for c, _, _ in plan.items]
    return ApplyResult(tuple(shown), tuple(plan.failed))


def written_result(plan: WritePlan, written: Listing) -> ApplyResult:
    """Per item, what the PUT answer (the new inventory) shows; a mismatch is never a confirmation."""
    outcome = answered(written, plan.items)
    confirmed = tuple(o for o in outcome.values() if isinstance(o, Observed))
    refused = [ItemFailure(eid, why, permanent=True) for eid, why in outcome.items() if isinstance(why, str)]
    return ApplyResult(confirmed, tuple(plan.failed + refused))


def budget_short(headers: Mapping[str, str], listings: int) -> dict[str, int | None] | None:
    """A pass over `listings` (those read so far) costs ⌈listings/100⌉ reads and at worst 2 writes per
    listing: the numbers when the rolling-24 h budget left (`x-remaining-today`) no longer covers
    that, else None."""
    left = _header_int(headers, "x-remaining-today")
    needed = -(-listings // READ_BATCH) + 2 * listings
    if left is None or left >= needed:
        return None
    return {"left": left, "needed": needed, "limit": _header_int(headers, "x-limit-per-day")}


def setting_flag(settings: StoreSettings, name: str) -> bool:
    """A true/false store setting (absent: false); anything else is refused, never read as false."""
    value = settings.get(name, False)
    if not isinstance(value, bool):
        raise ConfigError(settings.key(name), "must be true or false")
    return value


def _refused(plan: WritePlan, why: str) -> WritePlan:
    plan.failed += [ItemFailure(c.external_id, why, problem=True) for c, _, _ in plan.items]
    plan.items = []
    return plan


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = (headers.get(name) or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 12 else None
