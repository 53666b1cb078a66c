"""Store values at the reconciler boundary (pure): only what the state database can hold gets in.

store_state keeps quantities as PostgreSQL integers. A merchant's typo (3,000,000,000) or a HubRise
stock of "1e20" must become a readable problem for that one item, not a failed pass for the whole
store: the engine screens everything a platform reports (observe, confirmed writes, webhooks) here.
Conversions never build a huge integer: int() of Decimal("1e999999999") would block the event loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal

from daemon.model import Observed

INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1
PROBLEM = "problem"  # how a pass counts the items it skipped: a bad value, or one it cannot enforce
_SHOWN = 24  # characters of a refused value quoted back to support


def whole_count(value: Decimal | float | int) -> int | None:
    """A store's stock as a whole count (fractions rounded down), or None when it is not a finite
    number within what the database holds. Bounded: huge values are refused before any conversion."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if INT4_MIN <= value <= INT4_MAX else None
    if isinstance(value, float):
        if not math.isfinite(value) or not INT4_MIN <= value < INT4_MAX + 1:
            return None
        return math.floor(value)
    # 10 digits before the point at most: anything longer is out of range whatever its digits
    if not value.is_finite() or value.adjusted() > 9:
        return None
    count = int(value.to_integral_value(ROUND_FLOOR))
    return count if INT4_MIN <= count <= INT4_MAX else None


def out_of_range(value: object) -> str:
    """The per-item problem shown to support for a quantity stocksync cannot hold."""
    return (
        f"store value refused: quantity {_short(value)} is beyond what stocksync can hold "
        f"({INT4_MIN} to {INT4_MAX}); correct it in the store"
    )


def screen(observed: Sequence[Observed]) -> tuple[list[Observed], dict[str, str]]:
    """Split what a platform reported into values to use and per-item problems (external id → reason)."""
    kept: list[Observed] = []
    problems: dict[str, str] = {}
    for item in observed:
        reason = _problem(item)
        if reason is None:
            kept.append(item)
        else:
            problems[item.external_id] = reason
    return kept, problems


def _problem(item: Observed) -> str | None:
    if item.problem is not None:
        return item.problem
    if item.quantity is not None and whole_count(item.quantity) is None:
        return out_of_range(item.quantity)
    if item.unlimited and (item.available is not True or item.quantity is not None):
        return "store value refused: unlimited stock reported together with a count or as unavailable"
    return None


def _short(value: object) -> str:
    if isinstance(value, int) and value.bit_length() > 64:  # str() of a huge int is slow, or refused
        return f"of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = str(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}… ({len(text)} characters)"
