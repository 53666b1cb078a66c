"""HubRise inventory entries as our values (pure: no I/O): external ids, PATCH entries, stocks read
boundedly, and what a stock means for sale. See reconcilers/hubrise.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Any

from daemon.errors import InputError
from daemon.model import Change, Observed
from daemon.store_values import out_of_range
from reconcilers.observations import counted
from reconcilers.webhook_json import bounded_decimal

_KINDS = {"sku": "sku_ref", "option": "option_ref"}


UNLIMITED = None  # stock of an item the inventory does not list


class BadEntryError(Exception):
    """An inventory entry we cannot read (the message says why)."""


def parse_external_id(external_id: str) -> tuple[str, str] | None:
    """("sku" | "option", ref) from "sku:<ref>" / "option:<ref>", None when malformed."""
    kind, sep, ref = external_id.partition(":")
    return (kind, ref) if sep and kind in _KINDS and ref else None


def key_of(change: Change) -> tuple[str, str]:
    key = parse_external_id(change.external_id)
    if key is None:
        raise ValueError(f"bad external id {change.external_id!r}")
    return key


def entry_for(change: Change) -> dict[str, Any]:
    """The PATCH entry: stock "0" when unsellable, the count in quantity mode, null = unlimited."""
    key = key_of(change)
    target = change.target
    if not target.available:
        stock: str | None = "0"
    elif target.quantity is None:
        stock = None
    else:
        stock = str(max(target.quantity, 0))
    return {_KINDS[key[0]]: key[1], "stock": stock}


def read_entries(
    raw: Sequence[Any], strict: bool = False
) -> dict[tuple[str, str], Decimal | BadEntryError | None]:
    """Inventory entries keyed by (kind, ref); strict mode raises BadEntryError on a malformed entry.

    Otherwise an entry with a ref but a stock we cannot read maps to the error: that item's problem,
    never "no entry" (which would read as unlimited and be written over)."""
    found: dict[tuple[str, str], Decimal | BadEntryError | None] = {}
    for index, entry in enumerate(raw):
        try:
            key, stock = _entry(entry)
        except BadEntryError as exc:
            if strict:
                raise BadEntryError(f"entry {index}: {exc}") from None
            ref = _ref(entry)
            if ref is not None:
                found[ref] = exc
            continue  # an entry without a ref cannot be one of ours
        found[key] = stock
    return found


def _ref(entry: Any) -> tuple[str, str] | None:
    if isinstance(entry, dict):
        for kind, field in _KINDS.items():
            ref = entry.get(field)
            if isinstance(ref, str) and ref:
                return kind, ref
    return None


def _entry(entry: Any) -> tuple[tuple[str, str], Decimal | None]:
    if not isinstance(entry, dict):
        raise BadEntryError("not an object")
    key = _ref(entry)
    if key is None:
        raise BadEntryError("neither sku_ref nor option_ref")
    return key, stock_of(entry.get("stock"))


def stock_of(value: Any) -> Decimal | None:
    if value is None:
        return None  # a removed entry (PATCH / state_change): unlimited
    try:  # bounded: "1e999999999" must not become a billion-digit integer below
        stock = bounded_decimal(value, "stock")
    except InputError as exc:
        if exc.reason == "not a number":
            raise BadEntryError("store value refused: HubRise stock is not a number") from None
        raise BadEntryError(out_of_range(value)) from None
    if stock < 0:
        raise BadEntryError("store value refused: HubRise stock must be a decimal >= 0")
    return stock


def as_observed(
    external_id: str, stock: Decimal | BadEntryError | None, platform_ref: Mapping[str, Any] | None = None
) -> Observed:
    if stock is None:  # no entry: sells without a count
        return Observed(external_id, True, None, platform_ref, unlimited=True)
    if isinstance(stock, BadEntryError):
        return Observed(external_id, None, None, platform_ref, problem=str(stock))
    # only "0" is out: 0.5 is sellable, and reads as 1 so it never equals a written 0
    return counted(external_id, stock > 0, int(stock.to_integral_value(ROUND_CEILING)), platform_ref)
