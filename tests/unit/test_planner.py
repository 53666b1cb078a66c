"""Planner: drift detection, each drift policy, contested back-off, echoes, unknown, the guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from daemon.model import Availability, Change, DriftPolicy, Observed, StoreMode
from daemon.planner import (
    Decision,
    DriftAction,
    DriftFinding,
    PlanSettings,
    VariantState,
    Verdict,
    decide,
    guard_reason,
    needs_no_decision,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
YES, NO = Availability(True), Availability(False)


def settings(policy: DriftPolicy = DriftPolicy.PROTECT, mode: StoreMode = StoreMode.STATUS) -> PlanSettings:
    return PlanSettings(policy=policy, mode=mode, contested_after=3, overwrite_backoff_s=60)


def seen(available: bool | None, quantity: int | None = None) -> Observed:
    return Observed("e1", available, quantity)


def state(desired: Availability | None, applied: Availability | None = None, **kw: object) -> VariantState:
    return VariantState("e1", "v1", desired, applied, **kw)  # type: ignore[arg-type]


def qty(n: int) -> Availability:
    return Availability(True, n)


def test_our_unrecorded_write_is_recorded_not_taken_for_drift() -> None:
    # we sent 5 (intent), died before storing the answer; desired has moved on to 6 since
    lost = state(qty(6), applied=qty(4), pending=qty(5))
    decision = decide(lost, seen(True, 5), settings(DriftPolicy.REPORT, StoreMode.QUANTITY), NOW)
    assert decision.drift is None and decision.verdict is Verdict.WRITE
    assert decision.confirm_applied == qty(5)
    assert decision.change == Change("e1", qty(6), expected=qty(5), reason="desired changed")


def test_our_unrecorded_write_of_the_current_desired_is_in_sync() -> None:
    lost = state(qty(5), applied=qty(4), pending=qty(5))
    decision = decide(lost, seen(True, 5), settings(mode=StoreMode.QUANTITY), NOW)
    assert decision.verdict is Verdict.IN_SYNC and decision.drift is None
    assert decision.confirm_applied == qty(5)


def test_a_merchant_edit_during_our_write_is_still_drift() -> None:
    edited = state(qty(6), applied=qty(4), pending=qty(5))
    decision = decide(edited, seen(True, 9), settings(DriftPolicy.REPORT, StoreMode.QUANTITY), NOW)
    assert decision.drift is not None and decision.verdict is Verdict.HELD


def test_first_sync_writes_when_store_differs() -> None:
    decision = decide(state(NO), seen(True), settings(), NOW)
    assert decision.verdict is Verdict.WRITE and decision.reason == "first sync"
    assert decision.change == Change("e1", NO, expected=YES, reason="first sync")


def test_in_sync_writes_nothing_and_confirms_applied() -> None:
    decision = decide(state(YES), seen(True), settings(), NOW)
    assert decision.verdict is Verdict.IN_SYNC and decision.change is None
    assert decision.confirm_applied == YES


def test_unknown_desired_is_never_written() -> None:
    decision = decide(state(None, YES), seen(True), settings(DriftPolicy.OVERWRITE), NOW)
    assert decision.verdict is Verdict.UNKNOWN and decision.change is None


def test_not_found_and_paused() -> None:
    assert decide(state(YES), None, settings(), NOW).verdict is Verdict.NOT_FOUND
    assert decide(state(YES, sync_enabled=False), seen(False), settings(), NOW).verdict is Verdict.PAUSED
    assert decide(state(YES, sync_enabled=False), None, settings(), NOW).verdict is Verdict.PAUSED


def test_echo_of_our_write_is_not_drift() -> None:
    decision = decide(state(NO, NO), seen(False), settings(), NOW)
    assert decision.drift is None and decision.verdict is Verdict.IN_SYNC


def test_store_moving_to_desired_is_not_drift() -> None:
    decision = decide(state(NO, YES), seen(False), settings(), NOW)
    assert decision.drift is None and decision.confirm_applied == NO


def test_overwrite_policy_puts_desired_back() -> None:
    decision = decide(state(NO, NO), seen(True), settings(DriftPolicy.OVERWRITE), NOW)
    assert decision.verdict is Verdict.WRITE and decision.drift is not None
    assert decision.drift.action is DriftAction.OVERWRITTEN
    assert decision.change is not None and decision.change.target == NO
    # the back-off starts when the overwrite is written, not when it is decided (a webhook decides it
    # and a queued pass writes it: that pass must not meet the back-off)
    assert decision.overwrite_not_before is None
    assert decision.backoff_after_write == NOW + timedelta(seconds=60)


def test_report_policy_holds() -> None:
    decision = decide(state(NO, NO), seen(True), settings(DriftPolicy.REPORT), NOW)
    assert decision.verdict is Verdict.HELD and decision.change is None
    assert decision.drift is not None and decision.drift.action is DriftAction.HELD


def test_protect_overwrites_overselling_drift_but_reports_hiding_drift() -> None:
    oversell = decide(state(NO, NO), seen(True), settings(), NOW)
    assert oversell.verdict is Verdict.WRITE
    hiding = decide(state(YES, YES), seen(False), settings(), NOW)
    assert hiding.verdict is Verdict.HELD and hiding.drift is not None


def test_protect_in_quantity_mode_compares_counts() -> None:
    qty = settings(mode=StoreMode.QUANTITY)
    raised = decide(state(Availability(True, 5), Availability(True, 5)), seen(True, 9), qty, NOW)
    assert raised.verdict is Verdict.WRITE
    lowered = decide(state(Availability(True, 5), Availability(True, 5)), seen(True, 2), qty, NOW)
    assert lowered.verdict is Verdict.HELD


UNLIMITED = Availability(True, None, unlimited=True)


def test_unlimited_store_gets_the_desired_count_on_first_sync() -> None:
    decision = decide(
        state(qty(4)), Observed("e1", True, None, unlimited=True), settings(mode=StoreMode.QUANTITY), NOW
    )
    assert decision.verdict is Verdict.WRITE and decision.change is not None
    assert decision.change.target == qty(4) and decision.change.expected == UNLIMITED


def test_unlimited_over_an_applied_count_is_drift_protect_puts_it_back() -> None:
    shown = Observed("e1", True, None, unlimited=True)
    quantity = settings(mode=StoreMode.QUANTITY)
    assert not needs_no_decision(state(qty(4), qty(4)), shown, StoreMode.QUANTITY)
    decision = decide(state(qty(4), qty(4)), shown, quantity, NOW)
    assert decision.verdict is Verdict.WRITE and decision.change is not None
    assert decision.drift == DriftFinding(qty(4), UNLIMITED, DriftAction.OVERWRITTEN)
    # report policy: recorded, left for support
    held = decide(state(qty(4), qty(4)), shown, settings(DriftPolicy.REPORT, StoreMode.QUANTITY), NOW)
    assert held.verdict is Verdict.HELD and held.drift is not None and held.drift.store == UNLIMITED
    # status mode: unlimited is simply available
    assert decide(state(YES, YES), shown, settings(), NOW).verdict is Verdict.IN_SYNC


def test_held_variant_stays_held_until_support_resolves() -> None:
    decision = decide(state(YES, YES, open_drift=DriftAction.HELD), seen(False), settings(), NOW)
    assert decision.verdict is Verdict.HELD and decision.change is None
    contested = decide(state(NO, YES, open_drift=DriftAction.CONTESTED), seen(False, 3), settings(), NOW)
    assert contested.verdict is not Verdict.WRITE or contested.close_drift


def test_open_drift_closes_when_store_is_back_in_line() -> None:
    decision = decide(state(YES, YES, open_drift=DriftAction.HELD), seen(True), settings(), NOW)
    assert decision.close_drift and decision.verdict is Verdict.IN_SYNC


def test_repeated_drift_backs_off_then_becomes_contested() -> None:
    policy = settings(DriftPolicy.OVERWRITE)
    first = decide(state(NO, NO), seen(True), policy, NOW)
    assert first.verdict is Verdict.WRITE and first.drift_count == 1
    later = NOW + timedelta(seconds=10)
    second = decide(
        state(NO, NO, drift_count=1, overwrite_not_before=first.backoff_after_write),
        seen(True),
        policy,
        later,
    )
    assert second.verdict is Verdict.BACKOFF and second.drift_count == 2 and second.change is None
    third = decide(
        state(NO, NO, drift_count=2, overwrite_not_before=NOW, open_drift=None), seen(True), policy, later
    )
    assert third.verdict is Verdict.HELD and third.contested
    assert third.drift is not None and third.drift.action is DriftAction.CONTESTED


def test_an_overwrite_decided_but_not_yet_written_is_not_backed_off() -> None:
    # a webhook opened the drift and decided the overwrite; the queued pass now writes it
    decision = decide(
        state(NO, NO, drift_count=1, open_drift=DriftAction.OVERWRITTEN), seen(True), settings(), NOW
    )
    assert decision.verdict is Verdict.WRITE and decision.drift_count == 1


def test_same_open_drift_does_not_count_as_new_fight() -> None:
    policy = settings(DriftPolicy.OVERWRITE)
    decision = decide(
        state(
            NO,
            NO,
            drift_count=1,
            open_drift=DriftAction.OVERWRITTEN,
            overwrite_not_before=NOW + timedelta(60),
        ),
        seen(True),
        policy,
        NOW,
    )
    assert decision.drift_count == 1 and decision.verdict is Verdict.BACKOFF


@pytest.mark.parametrize(
    ("flips", "total", "held"),
    [(3, 10, False), (4, 10, True), (10, 10, True), (1, 2, False), (0, 0, False)],
)
def test_mass_unavailable_guard(flips: int, total: int, held: bool) -> None:
    changes = [Change(f"e{i}", NO, expected=YES) for i in range(flips)]
    changes += [Change("up", YES, expected=NO)]
    reason = guard_reason(changes, total, 0.30)
    assert (reason is not None) == held
    if held:
        assert f"{flips} of {total}" in str(reason)


availability = st.builds(Availability, st.booleans(), st.none() | st.integers(0, 5)) | st.just(
    Availability(True, None, unlimited=True)
)
variant_states = st.builds(
    VariantState,
    external_id=st.just("x1"),
    variant_id=st.just("v1"),
    desired=st.none() | availability,
    applied=st.none() | availability,
    pending=st.none() | availability,
    sync_enabled=st.booleans(),
    open_drift=st.none() | st.sampled_from(list(DriftAction)),
    drift_count=st.integers(0, 2),
    overwrite_not_before=st.none() | st.just(NOW - timedelta(hours=30)) | st.just(NOW - timedelta(minutes=1)),
)
observations = (
    st.none()
    | st.builds(Observed, st.just("x1"), st.none() | st.booleans(), st.none() | st.integers(0, 5))
    | st.just(Observed("x1", True, None, unlimited=True))
)


@hypothesis_settings(max_examples=2000)
@given(state=variant_states, observed=observations, mode=st.sampled_from(list(StoreMode)))
def test_the_quick_in_sync_check_only_skips_what_decide_would_leave_alone(
    state: VariantState, observed: Observed | None, mode: StoreMode
) -> None:
    if not needs_no_decision(state, observed, mode):
        return
    for policy in DriftPolicy:
        decision = decide(state, observed, PlanSettings(policy, mode), NOW)
        assert decision == Decision(state.external_id, Verdict.IN_SYNC, "in sync"), decision


@given(desired=availability, mode=st.sampled_from(list(StoreMode)))
def test_the_quick_check_takes_the_common_case(desired: Availability, mode: StoreMode) -> None:
    state = VariantState("x1", "v1", desired, applied=desired)
    shown = Observed("x1", desired.available, desired.quantity, unlimited=desired.unlimited)
    assert needs_no_decision(state, shown, mode)
