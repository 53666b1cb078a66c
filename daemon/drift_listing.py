"""What a drift listing asks for (filters, page size, cursor) and its validation; no I/O.

Listings are ordered newest first by (detected_at, id) and paged by keyset: a cursor names the last
record a page showed, so a record inserted or resolved between two page fetches never makes the next
page repeat or skip one. Every parameter error names the parameter it is about.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.errors import InputError
from daemon.output import show_value

STATUSES = ("open", "resolved", "all")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_AGE_H = 24 * 366 * 10  # beyond ten years the filter means nothing, and timedelta would overflow
MAX_ID = 2**63 - 1  # drift ids are bigint

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"(-?[0-9]{1,18})\.([0-9]{1,19})")


@dataclass(frozen=True, slots=True)
class Position:
    """A record's place in the listing order: the key a cursor carries."""

    detected_at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class DriftFilter:
    store_id: str | None = None
    status: str = "open"
    older_than_h: float | None = None  # only records detected at least this many hours ago


def filter_from_query(params: Mapping[str, str]) -> DriftFilter:
    """The store, status and age filters every drift listing takes (`?store=&status=&age=`)."""
    return DriftFilter(
        store_id=params.get("store", "").strip() or None,
        status=parse_status(params.get("status")),
        older_than_h=parse_age(params.get("age")),
    )


def parse_status(raw: str | None, where: str = "query") -> str:
    status = raw or "open"
    if status not in STATUSES:
        raise InputError(where, "status", "expected open, resolved or all")
    return status


def parse_limit(raw: str | None, where: str = "query", default: int = DEFAULT_LIMIT) -> int:
    """A page size: a whole number from 1 to MAX_LIMIT (absent or empty: the default)."""
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= MAX_LIMIT):
        raise InputError(where, "limit", f"expected a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def parse_age(raw: str | None, where: str = "query", field: str = "age") -> float | None:
    """The "older than N hours" filter: a number from 0 to MAX_AGE_H, or None when absent."""
    if raw is None or raw.strip() == "":
        return None
    try:
        hours = float(raw)
    except ValueError:
        hours = math.nan
    if not (math.isfinite(hours) and 0 <= hours <= MAX_AGE_H):
        raise InputError(where, field, f"expected a number of hours from 0 to {MAX_AGE_H}")
    return hours


def encode_cursor(position: Position) -> str:
    """An opaque token for a record's position (microseconds since the epoch and id)."""
    micros = (position.detected_at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}.{position.id}".encode()).decode().rstrip("=")


def decode_cursor(raw: str | None, where: str = "query", field: str = "after") -> Position | None:
    """The position a token names; absent or empty means "from the start". Anything else is refused."""
    if raw is None or raw == "":
        return None
    refusal = InputError(where, field, "not a cursor this listing gave out (use its `next` value as is)")
    if len(raw) > 64 or not raw.isascii():
        raise refusal
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise refusal from None
    match = _CURSOR.fullmatch(text)
    if match is None or int(match.group(2)) > MAX_ID:  # 0 is a bound below id 1
        raise refusal
    try:
        detected_at = _EPOCH + timedelta(microseconds=int(match.group(1)))
    except OverflowError:
        raise refusal from None
    return Position(detected_at, int(match.group(2)))


@dataclass(frozen=True, slots=True)
class PageSpan:
    """Which records of the whole listing a page shows (1-based, inclusive); 0–0 for an empty page."""

    first: int
    last: int
    total: int

    @property
    def has_newer(self) -> bool:
        return self.first > 1

    @property
    def has_older(self) -> bool:
        return self.last < self.total


def page_span(newer_than_page: int, shown: int, total: int) -> PageSpan:
    """Where a page sits, from how many matching records are newer than its first one."""
    if shown == 0:
        return PageSpan(0, 0, total)
    return PageSpan(newer_than_page + 1, newer_than_page + shown, total)


# The columns support sees, shared by `stocksync drift list|report`, the drift page and its CSV.
DRIFT_COLUMNS = [
    "id",
    "store_id",
    "sku",
    "external_id",
    "expected",
    "store_value",
    "status",
    "action",
    "occurrences",
    "detected_at",
    "last_seen_at",
]


def drift_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        | {
            "expected": show_value(r["expected_available"], r["expected_quantity"], r["expected_unlimited"]),
            "store_value": show_value(r["store_available"], r["store_quantity"], r["store_unlimited"]),
        }
        for r in records
    ]
