"""The planner (pure): desired × observed × applied for one variant → drift finding and planned write.

Also the mass-unavailable guard. No I/O here: the engine feeds plain values and records the results.
Drift = the store shows something other than what we last applied, and other than what we want now
(a store that coincidentally moved to the desired value is not worth a support agent's time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from daemon.model import Availability, Change, DriftPolicy, Observed, StoreMode
from daemon.rules import same_value

# a variant that stays in line this long after its last overwrite window forgets its drift history
DRIFT_MEMORY = timedelta(hours=24)


class Verdict(StrEnum):
    WRITE = "write"
    IN_SYNC = "in_sync"
    UNKNOWN = "unknown"  # no upstream data: never written
    NOT_FOUND = "not_found"  # the store has no such item
    PAUSED = "paused"  # support accepted the store's value; syncing stopped for this variant
    HELD = "held"  # open drift the policy reports (or contested): left for support
    BACKOFF = "backoff"  # repeated drift: overwrite postponed


class DriftAction(StrEnum):
    OVERWRITTEN = "overwritten"
    HELD = "held"
    CONTESTED = "contested"


@dataclass(frozen=True, slots=True)
class VariantState:
    """What the database knows about one synced variant before this pass observes it."""

    external_id: str
    variant_id: str
    desired: Availability | None
    applied: Availability | None = None
    pending: Availability | None = None  # a write we sent whose answer was never recorded (intent)
    platform_ref: Mapping[str, Any] | None = None
    sync_enabled: bool = True
    open_drift: DriftAction | None = None
    drift_count: int = 0
    overwrite_not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class PlanSettings:
    policy: DriftPolicy
    mode: StoreMode
    contested_after: int = 5
    overwrite_backoff_s: float = 60.0


@dataclass(frozen=True, slots=True)
class DriftFinding:
    expected: Availability  # what we had applied
    store: Availability  # what the store showed instead
    action: DriftAction


@dataclass(frozen=True, slots=True)
class Decision:
    external_id: str
    verdict: Verdict
    reason: str
    change: Change | None = None
    drift: DriftFinding | None = None
    close_drift: bool = False  # an open drift record is no longer true (store back in line)
    confirm_applied: Availability | None = None  # store already shows the desired value: record it
    drift_count: int = 0
    overwrite_not_before: datetime | None = None
    contested: bool = False
    # an overwrite's back-off for the NEXT drift: recorded only once this write is confirmed, so a
    # correction decided from a webhook (written later by a queued pass) never meets its own back-off
    backoff_after_write: datetime | None = None


def needs_no_decision(state: VariantState, observed: Observed | None, mode: StoreMode) -> bool:
    """The common case, checked cheaply before decide(): the store shows exactly what we applied, that
    is what we want, and the variant has no drift history, so decide() would say "in sync" and change
    nothing. Most variants of most passes are this; building a Decision for each is the pass's cost."""
    applied = state.applied
    return (
        observed is not None
        and applied is not None
        and state.desired is not None
        and state.sync_enabled
        and state.open_drift is None
        and state.drift_count == 0
        and state.overwrite_not_before is None
        and observed.available == applied.available
        and observed.quantity == applied.quantity
        and observed.unlimited == applied.unlimited
        and same_value(state.desired, applied, mode)
    )


def decide(state: VariantState, observed: Observed | None, settings: PlanSettings, now: datetime) -> Decision:
    """Decide what to do for one variant after observing the store."""
    ext = state.external_id
    if not state.sync_enabled:  # paused variants are not even observed
        return _untouched(state, Verdict.PAUSED, "syncing paused for this variant")
    if observed is None:
        return _untouched(state, Verdict.NOT_FOUND, "not found in the store")
    shown = observed.as_availability()
    if _own_unrecorded_write(state, shown, settings.mode):
        # the store took our write but we never stored its answer (died, or lost the database):
        # record it as applied now, then decide as if we had
        assert shown is not None
        decision = decide(replace(state, applied=shown, pending=None), observed, settings, now)
        return replace(decision, confirm_applied=shown)
    if _is_drift(shown, state, settings.mode):
        assert shown is not None and state.applied is not None
        return _on_drift(state, observed, shown, settings, now)
    in_line = (
        shown is not None and state.applied is not None and same_value(shown, state.applied, settings.mode)
    )
    close = state.open_drift is not None and (in_line or _matches_desired(shown, state, settings.mode))
    if state.open_drift in (DriftAction.HELD, DriftAction.CONTESTED) and not close:
        return _untouched(state, Verdict.HELD, "open drift awaits support")
    count, not_before = _forget_old_drift(state, now)
    if state.desired is None:
        return Decision(
            ext,
            Verdict.UNKNOWN,
            "no upstream data",
            close_drift=close,
            drift_count=count,
            overwrite_not_before=not_before,
        )
    if shown is not None and same_value(state.desired, shown, settings.mode):
        confirm = shown if shown != state.applied else None
        return Decision(
            ext,
            Verdict.IN_SYNC,
            "in sync",
            close_drift=close,
            confirm_applied=confirm,
            drift_count=count,
            overwrite_not_before=not_before,
        )
    reason = "first sync" if state.applied is None else "desired changed"
    return Decision(
        ext,
        Verdict.WRITE,
        reason,
        change=_change(state, observed, shown, state.desired, reason),
        close_drift=close,
        drift_count=count,
        overwrite_not_before=not_before,
    )


def _untouched(state: VariantState, verdict: Verdict, reason: str) -> Decision:
    return Decision(
        state.external_id,
        verdict,
        reason,
        drift_count=state.drift_count,
        overwrite_not_before=state.overwrite_not_before,
    )


def _is_drift(shown: Availability | None, state: VariantState, mode: StoreMode) -> bool:
    if shown is None or state.applied is None or same_value(shown, state.applied, mode):
        return False
    return not _matches_desired(shown, state, mode)


def _matches_desired(shown: Availability | None, state: VariantState, mode: StoreMode) -> bool:
    return shown is not None and state.desired is not None and same_value(shown, state.desired, mode)


def _on_drift(
    state: VariantState, observed: Observed, shown: Availability, settings: PlanSettings, now: datetime
) -> Decision:
    assert state.applied is not None
    ext = state.external_id
    # a drift still open from an earlier pass is the same edit, not a new fight
    count = state.drift_count if state.open_drift is not None else state.drift_count + 1
    overwrite = state.desired is not None and _policy_overwrites(settings, shown, state.desired)
    if not overwrite:
        finding = DriftFinding(state.applied, shown, DriftAction.HELD)
        return Decision(
            ext,
            Verdict.HELD,
            f"drift reported ({settings.policy} policy)",
            drift=finding,
            drift_count=count,
            overwrite_not_before=state.overwrite_not_before,
        )
    if count >= settings.contested_after or state.open_drift is DriftAction.CONTESTED:
        finding = DriftFinding(state.applied, shown, DriftAction.CONTESTED)
        return Decision(
            ext,
            Verdict.HELD,
            f"contested: drifted {count} times, another writer?",
            drift=finding,
            drift_count=count,
            overwrite_not_before=state.overwrite_not_before,
            contested=True,
        )
    finding = DriftFinding(state.applied, shown, DriftAction.OVERWRITTEN)
    if state.overwrite_not_before is not None and now < state.overwrite_not_before:
        return Decision(
            ext,
            Verdict.BACKOFF,
            "repeated drift: overwrite backed off",
            drift=finding,
            drift_count=count,
            overwrite_not_before=state.overwrite_not_before,
        )
    assert state.desired is not None
    not_before = now + timedelta(seconds=settings.overwrite_backoff_s * 2 ** (count - 1))
    change = _change(state, observed, shown, state.desired, "drift overwritten")
    return Decision(
        ext,
        Verdict.WRITE,
        "drift overwritten",
        change=change,
        drift=finding,
        drift_count=count,
        overwrite_not_before=state.overwrite_not_before,
        backoff_after_write=not_before,
    )


def _policy_overwrites(settings: PlanSettings, shown: Availability, desired: Availability) -> bool:
    if settings.policy is DriftPolicy.OVERWRITE:
        return True
    if settings.policy is DriftPolicy.REPORT:
        return False
    # protect: put back only edits that make the store sell more than upstream has (overselling)
    if shown.available and not desired.available:
        return True
    if settings.mode is StoreMode.QUANTITY and shown.unlimited:
        return not desired.unlimited  # no count at all sells more than any count
    if settings.mode is StoreMode.QUANTITY and shown.quantity is not None and desired.quantity is not None:
        return shown.quantity > desired.quantity
    return False


def _own_unrecorded_write(state: VariantState, shown: Availability | None, mode: StoreMode) -> bool:
    pending, applied = state.pending, state.applied
    if pending is None or shown is None:
        return False
    return same_value(shown, pending, mode) and (applied is None or not same_value(shown, applied, mode))


def _forget_old_drift(state: VariantState, now: datetime) -> tuple[int, datetime | None]:
    if state.overwrite_not_before is not None and now - state.overwrite_not_before > DRIFT_MEMORY:
        return 0, None
    return state.drift_count, state.overwrite_not_before


def _change(
    state: VariantState, observed: Observed, shown: Availability | None, target: Availability, reason: str
) -> Change:
    ref = observed.platform_ref if observed.platform_ref is not None else state.platform_ref
    return Change(state.external_id, target, expected=shown, platform_ref=ref, reason=reason)


def is_flip_to_unavailable(change: Change) -> bool:
    """A write that makes a sellable (or untracked) item unsellable."""
    return not change.target.available and (change.expected is None or change.expected.available)


def guard_reason(
    changes: Iterable[Change], synced_total: int, max_share: float, min_flips: int = 2
) -> str | None:
    """Why the pass must be held (a bad feed about to zero a store), or None to go ahead."""
    flips = sum(1 for change in changes if is_flip_to_unavailable(change))
    if synced_total <= 0 or flips < min_flips or flips <= max_share * synced_total:
        return None
    return (
        f"mass-unavailable guard: {flips} of {synced_total} synced variants "
        f"({flips / synced_total:.0%}) would become unavailable; limit {max_share:.0%}"
    )
