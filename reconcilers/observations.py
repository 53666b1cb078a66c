"""Building Observed values every platform needs: counts the state database can hold, and items that
cannot be enforced here (a problem for support, never written: see batching.CANNOT_ENFORCE)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.model import Observed
from reconcilers.batching import cannot_enforce

# store_state.observed_quantity is a PostgreSQL integer (int4)
MAX_STORABLE_COUNT = 2**31 - 1


def counted(
    external_id: str,
    available: bool,
    quantity: int | None,
    ref: Mapping[str, Any] | None = None,
    *,
    unlimited: bool = False,
) -> Observed:
    """An observation; a count beyond what the state database holds (a merchant's typo such as
    3,000,000,000) becomes a per-item problem instead of failing the whole store's pass."""
    if quantity is not None and not -MAX_STORABLE_COUNT <= quantity <= MAX_STORABLE_COUNT:
        why = f"the store shows a count of {str(quantity)[:24]}, beyond what stocksync can hold"
        return Observed(external_id, None, None, dict(ref) if ref else None, problem=why)
    return Observed(external_id, available, quantity, dict(ref) if ref else None, unlimited=unlimited)


def unenforceable(external_id: str, reason: str, ref: Mapping[str, Any] | None = None) -> Observed:
    """An item this store cannot be made to follow (untracked, sells past 0, ...): reported, not written."""
    return Observed(external_id, None, None, cannot_enforce(ref, reason), problem=reason)
