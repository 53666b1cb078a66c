"""BASE items and variations as our values (pure: no I/O): external ids, the stock of an item or one of
its variations, the form of an absolute `edit_stock` write, the error codes of a 400 answer and the
wait its quota errors ask for. See reconcilers/base.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from daemon.model import Change, Observed
from reconcilers.observations import counted, unenforceable

Target = tuple[int, int | None]  # (item id, variation id)
JST = timezone(timedelta(hours=9))  # BASE's day changes at midnight in Japan
HOUR_LIMIT, DAY_LIMIT = "hour_api_limit", "day_api_limit"
TOKEN_REFUSED = frozenset({"invalid_request", "invalid_token"})  # a bad or expired access token
NOT_FOUND = frozenset({"no_item", "bad_item_id"})
BOUNDARY_MARGIN_S = 1.0  # the Date header has whole seconds: arrive just after the store's boundary
SUMMED = (
    "the item has variations: its stock is the sum of their variation_stock and cannot be written "
    "itself; sync each variation as '<item_id>:<variation_id>'"
)
UNREADABLE = "store value refused: BASE answered no readable stock for it"


def item_unit(external_id: str) -> str:
    """Every item and every variation is its own write unit: one `edit_stock` call names one."""
    return external_id


def target_of(external_id: str) -> Target | None:
    """'12' → (12, None); '12:34' → (12, 34) (item id : variation id); anything else → None."""
    item, colon, variation = external_id.partition(":")
    item_id = base_id(item)
    if item_id is None or not colon:
        return None if item_id is None else (item_id, None)
    variation_id = base_id(variation)
    return None if variation_id is None else (item_id, variation_id)


def base_id(text: str) -> int | None:
    """A numeric BASE id as BASE writes it (ASCII digits, no leading zero)."""
    if not (text.isascii() and text.isdigit()) or text.startswith("0") or len(text) > 18:
        return None
    return int(text)


def item_of(body: Any) -> Mapping[str, Any] | None:
    """The `item` object of a detail or edit_stock answer."""
    item = body.get("item") if isinstance(body, Mapping) else None
    return item if isinstance(item, Mapping) else None


def items_of(body: Any) -> list[Mapping[str, Any]] | None:
    """The `items` list of a listing page; None when the answer is not one."""
    items = body.get("items") if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        return None
    return [i for i in items if isinstance(i, Mapping)]


def as_observed(external_id: str, target: Target, item: Mapping[str, Any]) -> Observed | None:
    """The item's `stock` (an item without variations) or one variation's `variation_stock`; None when
    the item does not have that variation. BASE has no unlimited stock: every item sells by its count."""
    variations = [v for v in item.get("variations") or () if isinstance(v, Mapping)]
    ref = {"item_id": target[0]}
    if target[1] is None:
        if variations:
            return unenforceable(external_id, SUMMED, ref)
        return _count(external_id, item.get("stock"), ref)
    for variation in variations:
        if variation.get("variation_id") == target[1]:
            return _count(external_id, variation.get("variation_stock"), ref)
    return None


def _count(external_id: str, stock: Any, ref: Mapping[str, Any]) -> Observed:
    if isinstance(stock, bool) or not isinstance(stock, int | float) or stock != int(stock):
        return unenforceable(external_id, UNREADABLE, ref)
    quantity = int(stock)
    return counted(external_id, quantity > 0, quantity, ref)


def stock_form(change: Change, target: Target, in_stock: int) -> tuple[dict[str, str], int]:
    """The edit_stock form of one change and the count it sets (status mode: 0 or `in_stock`)."""
    wanted = change.target
    quantity = wanted.quantity if wanted.quantity is not None else (in_stock if wanted.available else 0)
    quantity = max(quantity, 0)
    form = {"item_id": str(target[0])}
    if target[1] is None:
        form["stock"] = str(quantity)
    else:
        form |= {"variation_id": str(target[1]), "variation_stock": str(quantity)}
    return form, quantity


def error_code(body: Any) -> str | None:
    """The `error` code of a 400 answer (`{"error", "error_description"}`)."""
    code = body.get("error") if isinstance(body, Mapping) else None
    return code if isinstance(code, str) else None


def quota_wait(body: Any, date_header: str | None, now: datetime | None = None) -> float | None:
    """Seconds until BASE's exhausted quota comes back: the next round hour for `hour_api_limit`, the
    next midnight in Japan for `day_api_limit` (counted on the store's clock, its Date header, when it
    sends one); None for any other answer (a plain refusal)."""
    code = error_code(body)
    if code not in (HOUR_LIMIT, DAY_LIMIT):
        return None
    clock = _store_clock(date_header) or now or datetime.now(UTC)
    local = clock.astimezone(JST)
    if code == HOUR_LIMIT:
        boundary = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    else:
        boundary = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return (boundary - local).total_seconds() + BOUNDARY_MARGIN_S


def _store_clock(header: str | None) -> datetime | None:
    if not header or len(header) > 64:
        return None
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else None
