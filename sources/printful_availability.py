"""Printful API v2 answers → our facility stock: settings, pages, availability and warehouse rows.

Pure: no I/O. Everything here reads untrusted JSON and either returns rows or raises SourceError naming
the JSON path (`body.data[3].techniques[0].selling_regions[1].availability`) — never a guess, and never
"out of stock" from an answer that says nothing. The reader (sources/printful.py) does the requests.

Vocabulary (OpenAPI 2.0.0-beta, `SellingRegionStockAvailability.availability`):
- `in stock` → in_stock; `out of stock` (the supplier ran out in that region) and `not fulfillable`
  (not stocked in the region, or the technique is impossible there) → out_of_stock;
- `unknown` → no row: the facility keeps its last known stock (unknown is not zero);
- anything else → SourceError (a new value must be read, not assumed).
The availability endpoint has no "discontinued": a discontinued blank reads as not fulfillable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from daemon.model import StockStatus
from sources.interface import SourceError, SourceStock

# `selling_region_name` values (the 2025 revision adds `germany` and `all`, which asks for every region)
REGIONS = frozenset(
    {
        "worldwide",
        "north_america",
        "canada",
        "europe",
        "spain",
        "latvia",
        "uk",
        "france",
        "germany",
        "australia",
        "japan",
        "new_zealand",
        "italy",
        "brazil",
        "southeast_asia",
        "republic_of_korea",
        "english_speaking_regions",
    }
)
TECHNIQUES = frozenset({"dtg", "digital", "cut-sew", "uv", "embroidery", "sublimation", "dtfilm"})
AVAILABILITY: Mapping[str, StockStatus | None] = {
    "in stock": StockStatus.IN_STOCK,
    "out of stock": StockStatus.OUT_OF_STOCK,
    "not fulfillable": StockStatus.OUT_OF_STOCK,
    "unknown": None,
}
WAREHOUSE_PREFIX = "warehouse:"
DEFAULT_BASE_URL = "https://api.printful.com"
MAX_LIMIT = 100  # `limit` is 1..100 on every paged v2 endpoint
MAX_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class PrintfulSettings:
    """A source's settings, checked. `regions`: Printful selling region → our facility id;
    `warehouse_facilities`: Printful facility name (`stock_location[].facility`) → our facility id;
    `products`: catalog product ids whose variants are read in per-product pages."""

    regions: Mapping[str, str]
    technique: str
    base_url: str = "https://api.printful.com"
    store_id: str | None = None
    products: tuple[int, ...] = ()
    warehouse_facilities: Mapping[str, str] = field(default_factory=dict)
    webhook_public_key: str | None = None

    @property
    def region_query(self) -> str:
        """One mapped region is asked by name; several at once with `all` (one request instead of one
        per region)."""
        return next(iter(self.regions)) if len(self.regions) == 1 else "all"


def parse_settings(settings: Mapping[str, Any], facilities: frozenset[str]) -> PrintfulSettings:
    """A source's settings, or SourceError naming the key (`settings: regions.europe`): the daemon
    reports the source as misconfigured. Values are named only where they are ours (facility ids)."""
    known = {
        "regions",
        "technique",
        "base_url",
        "store_id",
        "products",
        "warehouse_facilities",
        "webhook_public_key",
    }
    unknown = sorted(set(settings) - known)
    if unknown:
        raise SourceError(_at(unknown[0]), f"unknown setting (known: {', '.join(sorted(known))})")
    regions = _facility_map("regions", settings.get("regions", {}), facilities)
    for region in regions:
        if region not in REGIONS:
            raise SourceError(
                _at(f"regions.{region}"), f"not a Printful selling region ({', '.join(sorted(REGIONS))})"
            )
    warehouse = _facility_map("warehouse_facilities", settings.get("warehouse_facilities", {}), facilities)
    if not regions and not warehouse:
        raise SourceError(
            _at("regions"), "map at least one selling region (or warehouse facility) to a facility"
        )
    technique = settings.get("technique", "dtg")
    if technique not in TECHNIQUES:
        raise SourceError(_at("technique"), f"not a Printful technique ({', '.join(sorted(TECHNIQUES))})")
    products = settings.get("products", [])
    if not isinstance(products, list) or not all(_is_id(p) for p in products):
        raise SourceError(_at("products"), "must be a list of catalog product ids (positive integers)")
    return PrintfulSettings(
        regions=regions,
        technique=technique,
        base_url=(_text("base_url", settings.get("base_url")) or DEFAULT_BASE_URL).rstrip("/"),
        store_id=_text("store_id", settings.get("store_id")),
        products=tuple(dict.fromkeys(products)),
        warehouse_facilities=warehouse,
        webhook_public_key=_text("webhook_public_key", settings.get("webhook_public_key")),
    )


def _at(key: str) -> str:
    return f"settings: {key}"


def _facility_map(key: str, value: Any, facilities: frozenset[str]) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise SourceError(_at(key), "must be an object of Printful name → facility id")
    for name, facility in value.items():
        if not isinstance(facility, str) or facility not in facilities:
            raise SourceError(
                _at(f"{key}.{name}"), f"{str(facility)[:40]!r} is not one of this source's facilities"
            )
    return dict(value)


def _text(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a store id written as a number
    if not isinstance(value, str) or not value.strip():
        raise SourceError(_at(key), "must be non-empty text")
    return value.strip()


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


@dataclass(frozen=True, slots=True)
class Covered:
    """The upstream ids a pull reads, split by kind: catalog variant id → our variant id, warehouse
    variant id → our variant id."""

    catalog: Mapping[int, str]
    warehouse: Mapping[int, str]


def covered(variants: Mapping[str, str], only: frozenset[str] | None = None) -> Covered:
    """Split the source mappings (upstream id → our variant): `4011` is a catalog variant,
    `warehouse:32453` a warehouse variant. A malformed id is a SourceError naming it."""
    catalog: dict[int, str] = {}
    warehouse: dict[int, str] = {}
    for upstream, ours in variants.items():
        if only is not None and upstream not in only:
            continue
        target, number = (
            (warehouse, upstream[len(WAREHOUSE_PREFIX) :])
            if upstream.startswith(WAREHOUSE_PREFIX)
            else (catalog, upstream)
        )
        if not (number.isascii() and number.isdigit() and len(number) <= 18 and int(number) > 0):
            raise SourceError(
                f"source mapping {upstream!r}",
                f"not a Printful catalog variant id (4011) or warehouse variant id ({WAREHOUSE_PREFIX}32453)",
            )
        target[int(number)] = ours
    return Covered(catalog, warehouse)


def page_items(body: Any, offset: int, where: str = "body") -> tuple[list[Any], int]:
    """`data` and `paging.total` of one page asked at `offset`. A page that is not where it was asked,
    or holds another number of items than its paging says (min(limit, total - offset)), is refused."""
    if not isinstance(body, Mapping):
        raise SourceError(where, "not a JSON object")
    data = body.get("data")
    if not isinstance(data, list):
        raise SourceError(f"{where}.data", "missing or not a list")
    paging = body.get("paging")
    if not isinstance(paging, Mapping):
        raise SourceError(f"{where}.paging", "missing (a page must say where it is)")
    total, got_offset, limit = (
        _count(paging, name, f"{where}.paging.{name}") for name in ("total", "offset", "limit")
    )
    if got_offset != offset:
        raise SourceError(f"{where}.paging.offset", f"is {got_offset}, asked for {offset}")
    expected = max(0, min(limit, total - offset))
    if len(data) != expected:
        # fewer is a truncated page, more a page that does not match its own paging: neither is read
        raise SourceError(f"{where}.data", f"{len(data)} items where paging says {expected} (truncated)")
    return data, total


def _count(obj: Mapping[str, Any], name: str, where: str) -> int:
    value = obj.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise SourceError(where, "missing or not a whole number >= 0")
    return value


def variant_id(entry: Any, where: str, name: str = "catalog_variant_id") -> int:
    if not isinstance(entry, Mapping):
        raise SourceError(where, "not a JSON object")
    value = entry.get(name)
    if not isinstance(value, int) or not _is_id(value):
        raise SourceError(f"{where}.{name}", "missing or not a positive integer id")
    return value


def availability_rows(
    entries: Sequence[tuple[str, Any]], wanted: Mapping[int, str], settings: PrintfulSettings
) -> tuple[list[SourceStock], set[int]]:
    """Rows for the wanted catalog variants among `entries` ((JSON path, VariantStockAvailability));
    also the wanted ids that were seen. A wanted variant without the configured technique is refused
    (the source is configured for a technique Printful does not print it with)."""
    rows: list[SourceStock] = []
    seen: set[int] = set()
    for where, entry in entries:
        number = variant_id(entry, where)
        ours = wanted.get(number)
        if ours is None:
            continue
        seen.add(number)
        index, regions = _technique_regions(entry, where, settings.technique)
        for i, region in enumerate(regions):
            spot = f"{where}.techniques[{index}].selling_regions[{i}]"
            if not isinstance(region, Mapping) or not isinstance(region.get("name"), str):
                raise SourceError(f"{spot}.name", "missing or not text")
            facility = settings.regions.get(region["name"])
            if facility is None:
                continue  # a region no facility stands for: ignored, by the mapping's design
            value = region.get("availability")
            if not isinstance(value, str) or value not in AVAILABILITY:
                shown = repr(value)[:40]
                raise SourceError(
                    f"{spot}.availability", f"unknown value {shown} (known: {', '.join(AVAILABILITY)})"
                )
            status = AVAILABILITY[value]
            if status is not None:
                rows.append(SourceStock(ours, facility, status, None))
    return rows, seen


def _technique_regions(entry: Mapping[str, Any], where: str, technique: str) -> tuple[int, list[Any]]:
    techniques = entry.get("techniques")
    if not isinstance(techniques, list):
        raise SourceError(f"{where}.techniques", "missing or not a list")
    for i, item in enumerate(techniques):
        if isinstance(item, Mapping) and item.get("technique") == technique:
            regions = item.get("selling_regions")
            if not isinstance(regions, list):
                raise SourceError(f"{where}.techniques[{i}].selling_regions", "missing or not a list")
            return i, regions
    raise SourceError(f"{where}.techniques", f"no {technique!r} entry for this variant")


def warehouse_products_with(
    items: Sequence[tuple[str, Any]], wanted: Mapping[int, str]
) -> dict[int, set[int]]:
    """Warehouse product id → the wanted warehouse variant ids it holds, from list pages."""
    found: dict[int, set[int]] = {}
    for where, item in items:
        product = variant_id(item, where, "id")
        variants = item.get("warehouse_variants")
        if not isinstance(variants, list):
            raise SourceError(f"{where}.warehouse_variants", "missing or not a list")
        for i, variant in enumerate(variants):
            number = variant_id(variant, f"{where}.warehouse_variants[{i}]", "id")
            if number in wanted:
                found.setdefault(product, set()).add(number)
    return found


def warehouse_rows(
    body: Any, wanted: Mapping[int, str], settings: PrintfulSettings
) -> tuple[list[SourceStock], set[int]]:
    """Rows from one `GET /v2/warehouse-products/{id}` answer: per mapped facility, `available` units
    (in stock when > 0). Facilities not mapped are ignored; a wanted variant with no stock location at
    a mapped facility gets no row there (absence is not zero)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("data"), Mapping):
        raise SourceError("body.data", "missing or not an object")
    variants = body["data"].get("warehouse_variants")
    if not isinstance(variants, list):
        raise SourceError("body.data.warehouse_variants", "missing or not a list")
    rows: list[SourceStock] = []
    seen: set[int] = set()
    for i, variant in enumerate(variants):
        where = f"body.data.warehouse_variants[{i}]"
        number = variant_id(variant, where, "id")
        ours = wanted.get(number)
        if ours is None:
            continue
        seen.add(number)
        locations = variant.get("stock_location")
        if not isinstance(locations, list):
            raise SourceError(f"{where}.stock_location", "missing or not a list")
        for j, location in enumerate(locations):
            spot = f"{where}.stock_location[{j}]"
            if not isinstance(location, Mapping) or not isinstance(location.get("facility"), str):
                raise SourceError(f"{spot}.facility", "missing or not text")
            facility = settings.warehouse_facilities.get(location["facility"])
            if facility is None:
                continue
            available = _count(location, "available", f"{spot}.available")
            status = StockStatus.IN_STOCK if available > 0 else StockStatus.OUT_OF_STOCK
            rows.append(SourceStock(ours, facility, status, available))
    return rows, seen


def merged(rows: Sequence[SourceStock]) -> list[SourceStock]:
    """One row per (variant, facility) where several Printful regions or warehouse facilities are
    mapped to one of our facilities: quantities add up, and it is in stock when any of them is."""
    by_key: dict[tuple[str, str], SourceStock] = {}
    for row in rows:
        key = (row.variant_id, row.facility_id)
        known = by_key.get(key)
        if known is None:
            by_key[key] = row
            continue
        quantity = None if known.quantity is None or row.quantity is None else known.quantity + row.quantity
        status = StockStatus.IN_STOCK if StockStatus.IN_STOCK in (known.status, row.status) else known.status
        by_key[key] = SourceStock(row.variant_id, row.facility_id, status, quantity)
    return list(by_key.values())
