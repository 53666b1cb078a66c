"""A pulled feed document (JSON or CSV in the `stock` import's columns) parsed into snapshot rows.

Pure: bytes in, rows out. The same validation as `stocksync import stock` (daemon/importer.py), so a
bad row is refused the same way and named `feed:LINE: column: reason`; nothing of a bad feed is kept.
JSON is an array of objects or {"stock": [...]}. An empty feed is refused: absence is never "out of
stock", and an upstream that lost its data answers exactly that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from daemon.errors import InputError
from daemon.importer import rows_from_text
from daemon.model import StockStatus
from sources.interface import SourceError, SourceStock

FORMATS = ("json", "csv")
NAME = "feed"  # how a feed's lines are named in errors: feed:14
_WRAPPED = re.compile(r'\s*\{\s*"stock"\s*:')


def parse_feed(
    body: bytes, fmt: str, *, max_rows: int, variants: Mapping[str, str] | None = None
) -> list[SourceStock]:
    """The feed's rows; `variants` maps upstream ids to ours when the source has mappings (an
    unmapped id is refused). SourceError naming line and column for anything not to apply."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise SourceError(f"{NAME}:{line}: file", "not UTF-8 text") from None
    if fmt == "json":
        text = _unwrapped(text)
    try:
        rows = rows_from_text("stock", text, fmt, NAME)
    except InputError as exc:
        raise SourceError(f"{exc.where}: {exc.field}", exc.reason) from None
    if not rows:
        raise SourceError(
            f"{NAME}: rows", "the feed has no rows (an empty feed is refused, never read as out of stock)"
        )
    if len(rows) > max_rows:
        raise SourceError(f"{NAME}: rows", f"{len(rows)} rows, more than max_rows {max_rows}")
    return [_stock(row.line, row.values, variants or {}) for row in rows]


def _stock(line: int, values: Mapping[str, Any], variants: Mapping[str, str]) -> SourceStock:
    variant_id = str(values["variant_id"])
    if variants:
        if variant_id not in variants:
            raise SourceError(f"{NAME}:{line}: variant_id", f"{variant_id!r} is not in the source's mappings")
        variant_id = variants[variant_id]
    quantity = values["quantity"]
    return SourceStock(
        variant_id=variant_id,
        facility_id=str(values["facility_id"]),
        status=StockStatus(str(values["status"])),
        quantity=quantity if isinstance(quantity, int) else None,
        where=f"{NAME}:{line}",
    )


def _unwrapped(text: str) -> str:
    """{"stock": [...]} as its array, every other character blanked so line numbers stay true."""
    opening = _WRAPPED.match(text)
    if opening is None:
        return text  # an array, or an error the array reader names with its line
    start = opening.end()
    end = text.rstrip().rfind("}")
    if end < start:
        raise SourceError(f"{NAME}:1: json", 'expected {"stock": [...]} or an array of objects')
    return _blank(text[:start]) + text[start:end] + _blank(text[end:])


def _blank(part: str) -> str:
    return re.sub(r"[^\n]", " ", part)
