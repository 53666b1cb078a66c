"""A HubRise location inventory read as facility stock (pure: no I/O). See sources/hubrise_location.py.

HubRise's rule for one (catalog, location) inventory: an entry `{"sku_ref" | "option_ref", "stock"}`
with stock "0" is out of stock, a positive decimal string is that many in stock, and a SKU or option
with NO entry has an unlimited supply. So a complete read states the stock of every covered ref: the
ones it lists, and (by absence) every other one, which is in stock with no count. That is why a full
pull emits a row for every covered variant, and why only a complete, well-formed document may be
read that way: anything doubtful is a SourceError and nothing is applied.

Counts: a positive stock is reported as a whole count, rounded down but never below 1 (HubRise sells
"0.5", so it must not read as our out-of-stock 0). An unlimited (absent) entry has no count: the
rules then treat a warehouse-kind variant as unknown there, a print-on-demand one as available.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from daemon.errors import ConfigError, InputError
from daemon.model import StockStatus
from reconcilers.webhook_json import bounded_decimal
from sources.interface import SourceError, SourceStock

REF_FIELDS = {"sku": "sku_ref", "option": "option_ref"}
REF_KINDS = ("sku", "option", "both")  # the `ref_kind` setting: what an upstream id in the mappings is
UNLIMITED = None  # the stock of a ref the inventory does not list

Key = tuple[str, str]  # ("sku" | "option", ref)


class BadEntryError(ValueError):
    """An inventory entry that cannot be read; `field` names the member (`stock`, `sku_ref`)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Coverage:
    """What one source covers: HubRise key → our variant id, and the facility the location is."""

    facility_id: str
    variants: Mapping[Key, str]
    upstream_ids: Mapping[Key, str]  # HubRise key → the upstream id as written in the mappings


def coverage(source_id: str, ref_kind: str, facility_id: str, mappings: Mapping[str, str]) -> Coverage:
    """The covered refs from the source mappings (upstream id → variant id).

    `ref_kind` "sku" / "option": every upstream id is a ref of that kind; "both": ids are written
    `sku:<ref>` or `option:<ref>` (as the HubRise store's external ids are)."""
    key = f"sources.{source_id}.settings.ref_kind"
    if ref_kind not in REF_KINDS:
        raise ConfigError(key, f"must be one of {', '.join(REF_KINDS)}")
    variants: dict[Key, str] = {}
    upstream: dict[Key, str] = {}
    owner: dict[str, Key] = {}
    for upstream_id, variant_id in mappings.items():
        ref_key = _key_of(upstream_id, ref_kind)
        if ref_key is None:
            raise ConfigError(
                f"sources.{source_id}.mappings",
                f"upstream id {upstream_id[:80]!r} is not 'sku:<ref>' or 'option:<ref>' (ref_kind both)",
            )
        if variant_id in owner:  # two refs for one variant: which one's stock it has is undecidable
            raise ConfigError(
                f"sources.{source_id}.mappings",
                f"variant {variant_id!r} is mapped from two HubRise refs ({upstream_id[:80]!r} and "
                f"{upstream[owner[variant_id]][:80]!r})",
            )
        owner[variant_id] = ref_key
        variants[ref_key] = variant_id
        upstream[ref_key] = upstream_id
    if not variants:
        raise ConfigError(
            f"sources.{source_id}.mappings",
            "a hubrise_location source needs source mappings (HubRise ref → variant): "
            "'no entry = in stock' can only be applied to the variants it names",
        )
    return Coverage(facility_id, variants, upstream)


def _key_of(upstream_id: str, ref_kind: str) -> Key | None:
    if ref_kind != "both":
        return (ref_kind, upstream_id) if upstream_id else None
    kind, sep, ref = upstream_id.partition(":")
    return (kind, ref) if sep and kind in REF_FIELDS and ref else None


def read_inventory(document: Any, where: str = "inventory") -> dict[Key, Decimal]:
    """Every entry of a retrieved inventory (a JSON list) as key → stock; SourceError naming the
    entry for anything that is not a readable inventory (no partial reading)."""
    if not isinstance(document, list):
        raise SourceError(where, f"not a JSON list of inventory entries (got {type(document).__name__})")
    stocks: dict[Key, Decimal] = {}
    for index, raw in enumerate(document):
        try:
            key, stock = read_entry(raw)
        except BadEntryError as exc:
            raise SourceError(f"{where}[{index}].{exc.field}", exc.reason) from None
        if stock is UNLIMITED:  # a retrieved inventory lists entries with a stock only
            raise SourceError(f"{where}[{index}].stock", "missing (null)")
        if key in stocks and stocks[key] != stock:
            raise SourceError(f"{where}[{index}]", f"{REF_FIELDS[key[0]]} {key[1][:80]!r} listed twice")
        stocks[key] = stock
    return stocks


def read_entry(raw: Any) -> tuple[Key, Decimal | None]:
    """One entry: its key and stock (None: the entry was removed = unlimited, in a change list)."""
    if not isinstance(raw, dict):
        raise BadEntryError("entry", "not an object")
    present = [kind for kind, field in REF_FIELDS.items() if raw.get(field) is not None]
    if len(present) != 1:
        raise BadEntryError("sku_ref", "an entry needs exactly one of sku_ref, option_ref")
    kind = present[0]
    ref = raw[REF_FIELDS[kind]]
    if not isinstance(ref, str) or not ref:
        raise BadEntryError(REF_FIELDS[kind], "must be a non-empty string")
    return (kind, ref), _stock(raw.get("stock"))


def _stock(value: Any) -> Decimal | None:
    if value is None:
        return UNLIMITED
    try:  # bounded: "1e999999999" must not turn into a huge integer below
        stock = bounded_decimal(value, "stock")
    except InputError as exc:
        raise BadEntryError("stock", exc.reason) from None
    if stock < 0:
        raise BadEntryError("stock", "must be a decimal >= 0")
    return stock


def stock_row(variant_id: str, facility_id: str, stock: Decimal | None) -> SourceStock:
    """HubRise's meaning of one stock for our facility stock."""
    if stock is UNLIMITED:
        return SourceStock(variant_id, facility_id, StockStatus.IN_STOCK, None)
    if stock == 0:
        return SourceStock(variant_id, facility_id, StockStatus.OUT_OF_STOCK, 0)
    count = max(int(stock.to_integral_value(ROUND_FLOOR)), 1)
    return SourceStock(variant_id, facility_id, StockStatus.IN_STOCK, count)


def snapshot_rows(
    covered: Coverage, stocks: Mapping[Key, Decimal], only: Iterable[Key] | None = None
) -> list[SourceStock]:
    """A row for every covered key (or for `only` of them), an unlisted one as unlimited = in stock.
    `stocks` must come from a COMPLETE read: absence is read as "in stock"."""
    keys: Sequence[Key] = (
        list(covered.variants) if only is None else [k for k in only if k in covered.variants]
    )
    return [stock_row(covered.variants[k], covered.facility_id, stocks.get(k, UNLIMITED)) for k in keys]


def keys_of(covered: Coverage, upstream_ids: Iterable[str]) -> list[Key]:
    """The covered keys named by upstream ids (ids the source does not cover are ignored)."""
    by_id = {upstream_id: key for key, upstream_id in covered.upstream_ids.items()}
    return [by_id[u] for u in upstream_ids if u in by_id]
