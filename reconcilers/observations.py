"""Building Observed values every platform needs: counts the state database can hold, and items that
cannot be enforced here (a problem for support, never written: see batching.CANNOT_ENFORCE)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.model import Observed
from daemon.store_values import out_of_range, whole_count
from reconcilers.batching import cannot_enforce


def counted(
    external_id: str,
    available: bool,
    quantity: int | None,
    ref: Mapping[str, Any] | None = None,
    *,
    unlimited: bool = False,
) -> Observed:
    """An observation; a count beyond what the state database holds (a merchant's typo such as
    3,000,000,000) becomes a per-item problem instead of failing the whole store's pass (the same rule
    and reason as the engine's screen, daemon/store_values.py)."""
    if quantity is not None and whole_count(quantity) is None:
        return Observed(external_id, None, None, dict(ref) if ref else None, problem=out_of_range(quantity))
    return Observed(external_id, available, quantity, dict(ref) if ref else None, unlimited=unlimited)


def unenforceable(external_id: str, reason: str, ref: Mapping[str, Any] | None = None) -> Observed:
    """An item this store cannot be made to follow (untracked, sells past 0, ...): reported, not written."""
    return Observed(external_id, None, None, cannot_enforce(ref, reason), problem=reason)
