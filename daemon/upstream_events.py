"""Parse and validate a signed upstream stock-event batch (pure; no I/O).

Body: {"events": [{event_id, variant_id, facility_id, status, quantity, occurred_at}, ...]}. Every
refusal names the field, e.g. `events[3].status`, so the sender can fix its payload.

Newest wins per (variant, facility), so an `occurred_at` in the future would make every real event
after it look older and be ignored: events dated more than MAX_CLOCK_SKEW ahead of now are refused.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

from daemon.errors import InputError
from daemon.model import StockEvent, StockStatus
from daemon.text import NOT_STORABLE, storable_text

MAX_EVENTS = 10_000
MAX_CLOCK_SKEW = timedelta(minutes=5)  # how far a sender's clock may run ahead of ours
_ID_MAX = 200
_NAME_SHOWN = 40
_FIELDS = {"event_id", "variant_id", "facility_id", "status", "quantity", "occurred_at"}


def parse_stock_events(body: bytes, now: datetime) -> list[StockEvent]:
    """The batch's events; `now` (aware) bounds how far in the future an event may be dated."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("body", "json", f"not valid JSON ({exc})") from None
    except RecursionError:  # found by fuzzing: a 1,000-deep array was a 500
        raise InputError("body", "json", "nested deeper than the parser goes") from None
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise InputError("body", "events", "expected an object with an 'events' array")
    items = document["events"]
    if not items:
        raise InputError("body", "events", "must not be empty")
    if len(items) > MAX_EVENTS:
        raise InputError("body", "events", f"at most {MAX_EVENTS} events per batch")
    latest = now + MAX_CLOCK_SKEW
    return [_event(f"events[{i}]", item, latest) for i, item in enumerate(items)]


def _event(where: str, item: Any, latest: datetime) -> StockEvent:
    if not isinstance(item, dict):
        raise InputError(where, "event", "expected an object")
    unknown = set(item) - _FIELDS
    if unknown:
        raise InputError(where, _field_name(sorted(unknown)[0]), "unknown field")
    status = _text(where, item, "status")
    if status not in {s.value for s in StockStatus}:
        raise InputError(where, "status", "expected in_stock, out_of_stock or discontinued")
    return StockEvent(
        event_id=_text(where, item, "event_id"),
        variant_id=_text(where, item, "variant_id"),
        facility_id=_text(where, item, "facility_id"),
        status=StockStatus(status),
        quantity=_quantity(where, item.get("quantity")),
        occurred_at=_timestamp(where, item.get("occurred_at"), latest),
    )


def _text(where: str, item: dict[str, Any], field: str) -> str:
    value = item.get(field)
    if not isinstance(value, str) or not value.strip():
        raise InputError(where, field, "required non-empty string")
    if len(value) > _ID_MAX:
        raise InputError(where, field, f"longer than {_ID_MAX} characters")
    if not storable_text(value):
        raise InputError(where, field, NOT_STORABLE)
    return value


def _field_name(name: str) -> str:
    """An unknown field as the sender wrote it, quoted when it is empty or odd, and never long."""
    if name.isidentifier() and len(name) <= _NAME_SHOWN:
        return name
    return json.dumps(name[:_NAME_SHOWN])


def _quantity(where: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(where, "quantity", "expected a non-negative integer or null")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise InputError(where, "quantity", "expected a whole number")
    if not 0 <= value <= 2_147_483_647:
        raise InputError(where, "quantity", "out of range (0 to 2147483647)")
    return int(value)


def _timestamp(where: str, value: Any, latest: datetime) -> datetime:
    if not isinstance(value, str):
        raise InputError(where, "occurred_at", "required ISO 8601 timestamp with a time zone")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(where, "occurred_at", "not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise InputError(where, "occurred_at", "needs a time zone (e.g. Z or +00:00)")
    if parsed > latest:
        skew = int(MAX_CLOCK_SKEW.total_seconds() // 60)
        raise InputError(where, "occurred_at", f"in the future (more than {skew} minutes ahead of our clock)")
    return parsed
