"""The mass-unavailable guard as a store state (pure: the engine reads and records the state).

A pass trips the guard when it would flip more than the configured share of a store's synced variants to
unavailable (planner.guard_reason). From then on the *store* is held: no write that makes a variant less
sellable than what we last applied goes to it, whichever pass carries the write (full, event, import),
until an operator confirms or upstream undoes the change. A bad feed arriving in small batches is still
a bad feed. Writes that make a variant more sellable go out, and so do corrections of an oversell (the
store shows more than we applied): down to the applied value, never below it while held.
"""

from __future__ import annotations

from dataclasses import replace

from daemon.model import Availability, Change, StoreMode


def less_sellable(value: Availability, than: Availability | None, mode: StoreMode) -> bool:
    """Whether a store showing `value` sells less than one showing `than`: sellable → unsellable, or in
    quantity mode a lower count where both sides have one (no count, e.g. unlimited, compares by flag).
    Against no value at all (never written, untracked) only an unsellable value is less."""
    if than is None:
        return not value.available
    if value.available != than.available:
        return than.available
    if mode is StoreMode.QUANTITY and value.quantity is not None and than.quantity is not None:
        return value.quantity < than.quantity
    return False


def reference(change: Change, applied: Availability | None) -> Availability | None:
    """What a held store is protected down to: what we last applied, else what it showed (first sync)."""
    return applied if applied is not None else change.expected


def while_held(change: Change, applied: Availability | None, mode: StoreMode) -> Change | None:
    """The write a held store may take for this planned change, or None when it is held.

    An oversell correction whose desired value is also below what we applied is cut down to the applied
    value: the store stops selling what it never had, and the rest of the drop waits for confirmation.
    """
    if not less_sellable(change.target, reference(change, applied), mode):
        return change
    shown = change.expected
    if applied is not None and shown is not None and less_sellable(applied, shown, mode):
        return replace(change, target=applied)
    return None


def held_message(trip_reason: str | None, held: int, store_id: str) -> str:
    """The reason a pass of a held store reports (run row, CLI, logs)."""
    why = trip_reason or "mass-unavailable guard"
    return (
        f"{why}; store held: {held} less-sellable write(s) held until "
        f"`stocksync sync {store_id} --confirm-guard` or upstream undoes the change"
    )
