"""Square catalog variations, inventory counts and physical counts as our values (pure: no I/O).

What a variation's catalog entry says about one location (tracked? present? sold out?), what a
count reads as, the PHYSICAL_COUNT a change becomes and which changes a refused batch names. See
reconcilers/square.py for the facts and their sources.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from daemon.errors import InputError
from daemon.model import ApplyResult, Change, ItemFailure, Observed
from daemon.store_values import out_of_range
from reconcilers.observations import counted, unenforceable
from reconcilers.webhook_json import bounded_decimal

IN_STOCK = "IN_STOCK"
VARIATION = "ITEM_VARIATION"
MAX_ID = 100  # InventoryCount.catalog_object_id maxLength
UNTRACKED = (
    "inventory is not tracked for this variation at the location (track_inventory off): Square sells "
    "it without a count; turn tracking on in Square to sync it"
)
NOT_A_NUMBER = "store value refused: Square quantity is not a decimal"
_CHANGE_INDEX = re.compile(r"changes\[(\d+)\]")


class UnreadableError(Exception):
    """A quantity we cannot read as a count (the message is the item's problem)."""


@dataclass(frozen=True, slots=True)
class Variation:
    """One catalog variation as seen from our location: a reason it cannot be enforced, or sold out."""

    problem: str | None = None
    sold_out: bool = False


def valid_id(external_id: str) -> bool:
    return 0 < len(external_id) <= MAX_ID and external_id.isprintable() and " " not in external_id


def quantity_of(raw: Any) -> Decimal:
    """A Square decimal string ("3", "2.5", up to 5 decimals), bounded before any arithmetic."""
    try:
        return bounded_decimal(raw, "quantity")
    except InputError as exc:
        raise UnreadableError(NOT_A_NUMBER if exc.reason == "not a number" else out_of_range(raw)) from None


def as_count(external_id: str, quantity: Decimal, ref: Mapping[str, Any] | None = None) -> Observed:
    """Sellable iff above 0 (Square sells out at zero); a fraction reads as the next whole count, so
    0.5 is sellable and never equals a lower count we wrote."""
    return counted(external_id, quantity > 0, int(quantity.to_integral_value(ROUND_CEILING)), ref)


def read_variation(obj: Mapping[str, Any], location_id: str, now: datetime) -> Variation:
    """Tracking and sold-out state at the location: the location override wins over the variation."""
    if obj.get("type") != VARIATION:
        return Variation(f"catalog object is a {str(obj.get('type'))[:30]}, not an {VARIATION}")
    if not _present(obj, location_id):
        return Variation(f"the variation is not sold at location {location_id} (present_at_location_ids)")
    data = obj.get("item_variation_data")
    data = data if isinstance(data, dict) else {}
    if data.get("stockable") is False:
        return Variation("stock is counted on the variation's components (stockable false)")
    overrides = data.get("location_overrides")
    override = next(
        (o for o in overrides or () if isinstance(o, dict) and o.get("location_id") == location_id), {}
    )
    tracked = override.get("track_inventory")
    if not isinstance(tracked, bool):
        tracked = data.get("track_inventory") is True
    if not tracked:
        return Variation(UNTRACKED)
    return Variation(sold_out=override.get("sold_out") is True and _still(override, now))


def _present(obj: Mapping[str, Any], location_id: str) -> bool:
    if obj.get("present_at_all_locations", True) is not False:  # documented default: true
        return location_id not in (obj.get("absent_at_location_ids") or ())
    return location_id in (obj.get("present_at_location_ids") or ())


def _still(override: Mapping[str, Any], now: datetime) -> bool:
    """A sold-out mark lasts until `sold_out_valid_until` (absent or unreadable: until turned off)."""
    until = override.get("sold_out_valid_until")
    try:
        end = datetime.fromisoformat(until) if isinstance(until, str) and len(until) <= 40 else None
    except ValueError:
        end = None
    return end is None or end.tzinfo is None or end > now


def read_counts(counts: Any, location_id: str) -> dict[str, Decimal | UnreadableError | None]:
    """IN_STOCK counts of variations at our location by catalog object id; None: an estimated count
    (a composed variation), which the Inventory API cannot write."""
    found: dict[str, Decimal | UnreadableError | None] = {}
    for count in counts if isinstance(counts, list) else ():
        if not isinstance(count, dict) or count.get("location_id") != location_id:
            continue
        object_id = count.get("catalog_object_id")
        if count.get("state") != IN_STOCK or count.get("catalog_object_type", VARIATION) != VARIATION:
            continue
        if not isinstance(object_id, str):
            continue
        if count.get("is_estimated") is True:
            found[object_id] = None
            continue
        try:
            found[object_id] = quantity_of(count.get("quantity"))
        except UnreadableError as exc:
            found[object_id] = exc
    return found


def observed(
    external_id: str, variation: Variation, count: Decimal | UnreadableError | None, has_count: bool
) -> Observed:
    """What the store shows; a tracked variation without a count record has 0 (Square starts at 0)."""
    if variation.problem is not None:
        return unenforceable(external_id, variation.problem)
    if has_count and count is None:
        return unenforceable(external_id, "an estimated count (composed variation) cannot be written")
    if isinstance(count, UnreadableError):
        return Observed(external_id, None, None, problem=str(count))
    quantity = count if count is not None else Decimal(0)
    if variation.sold_out and quantity > 0:  # docs: treat a sold-out variation's count as zero
        return counted(external_id, False, 0)
    return as_count(external_id, quantity)


def physical_count(
    change: Change, location_id: str, occurred_at: str, in_stock_quantity: int
) -> dict[str, Any]:
    """The absolute IN_STOCK count a change becomes: 0 when unsellable, the count in quantity mode,
    `in_stock_quantity` for an available item in status mode."""
    target = change.target
    if not target.available:
        quantity = 0
    elif target.quantity is None:
        quantity = in_stock_quantity
    else:
        quantity = max(target.quantity, 0)
    return {
        "type": "PHYSICAL_COUNT",
        "physical_count": {
            "catalog_object_id": change.external_id,
            "location_id": location_id,
            "state": IN_STOCK,
            "quantity": str(quantity),
            "occurred_at": occurred_at,
        },
    }


def batch_key(changes: Sequence[Mapping[str, Any]]) -> str:
    """The idempotency key is the batch's fingerprint: a transport retry resends the same body and so
    the same key (Square answers the first result, never applies twice), and a different body never
    reuses a key (IDEMPOTENCY_KEY_REUSED). occurred_at is in the body, so a later write differs."""
    canonical = json.dumps(changes, sort_keys=True, separators=(",", ":")).encode()
    return "stocksync-" + hashlib.sha256(canonical).hexdigest()


def refused_by(errors: Any, batch: Sequence[Change]) -> dict[str, str]:
    """External id -> reason for the changes a refusal's errors[] names (by `field` index
    `changes[N]...`, or by the catalog object id in `detail`)."""
    named: dict[str, str] = {}
    for error in errors if isinstance(errors, list) else ():
        if not isinstance(error, dict):
            continue
        field, detail = str(error.get("field") or ""), str(error.get("detail") or "")
        reason = " ".join(f"Square refused the change: {error.get('code')}: {detail}".split())[:300]
        index = _CHANGE_INDEX.search(field)
        if index is not None and int(index.group(1)) < len(batch):
            named.setdefault(batch[int(index.group(1))].external_id, reason)
            continue
        for change in batch:
            if change.external_id in detail:
                named.setdefault(change.external_id, reason)
    return named


def refusal(batch: Sequence[Change], errors: Any, whole: str) -> tuple[ItemFailure, ...]:
    """A refused batch applies nothing: the named changes failed for good, the others may pass alone;
    when no change is named, all failed for the batch's reason."""
    named = refused_by(errors, batch)
    if not named:
        return tuple(ItemFailure(c.external_id, whole, permanent=True) for c in batch)
    others = "not written: Square refused the whole batch for another change; retried alone"
    return tuple(
        ItemFailure(c.external_id, named[c.external_id], permanent=True)
        if c.external_id in named
        else ItemFailure(c.external_id, others)
        for c in batch
    )


def confirmations(
    batch: Sequence[Change], entries: Sequence[Mapping[str, Any]], answer: Mapping[str, Any], location_id: str
) -> ApplyResult:
    """A taken batch: each change confirmed with the count written, unless the answer's counts show
    another one (a change Square dates later superseded ours: re-read before writing again) or a 200
    still names the change in errors[]."""
    named = refused_by(answer.get("errors"), batch)
    shown = read_counts(answer.get("counts"), location_id)
    confirmed: list[Observed] = []
    failed: list[ItemFailure] = []
    for change, entry in zip(batch, entries, strict=True):
        written = Decimal(entry["physical_count"]["quantity"])
        now = shown.get(change.external_id, written)
        if change.external_id in named:
            failed.append(ItemFailure(change.external_id, named[change.external_id], permanent=True))
        elif now != written:
            why = f"Square shows {str(now)[:40]} after our count of {written}: a later change superseded it"
            failed.append(ItemFailure(change.external_id, why))
        else:
            confirmed.append(as_count(change.external_id, written, change.platform_ref))
    return ApplyResult(tuple(confirmed), tuple(failed))


def notified(counts: Sequence[Any], location_id: str) -> list[Observed]:
    """The IN_STOCK counts at our location an inventory.count.updated event carries; a malformed count
    is an InputError naming its field, a count too large to hold that item's problem."""
    items: list[Observed] = []
    for index, count in enumerate(counts):
        where = f"data.object.inventory_counts[{index}]"
        if not isinstance(count, dict):
            raise InputError("webhook", where, "not an object")
        ours = count.get("location_id") == location_id and count.get("state") == IN_STOCK
        if not ours or count.get("catalog_object_type", VARIATION) != VARIATION:
            continue  # another location, or the other side of a state change (e.g. SOLD)
        object_id = count.get("catalog_object_id")
        if not isinstance(object_id, str) or not valid_id(object_id):
            raise InputError("webhook", f"{where}.catalog_object_id", "missing or not a catalog id")
        if count.get("is_estimated") is True:
            continue  # a composed variation's estimate: never synced
        try:
            quantity = quantity_of(count.get("quantity"))
        except UnreadableError as exc:
            if str(exc) == NOT_A_NUMBER:
                raise InputError("webhook", f"{where}.quantity", "not a decimal string") from None
            items.append(Observed(object_id, None, None, problem=str(exc)))
            continue
        items.append(as_count(object_id, quantity))
    return items
