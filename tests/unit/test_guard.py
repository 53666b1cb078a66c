"""The guard as a store state (daemon/guard.py): what a held store may still be sent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.guard import held_message, less_sellable, reference, while_held
from daemon.model import Availability, Change, StoreMode

YES, NO = Availability(True), Availability(False)


def qty(n: int) -> Availability:
    return Availability(n > 0, n)


values = st.builds(Availability, st.booleans(), st.none() | st.integers(0, 20))
modes = st.sampled_from(list(StoreMode))


@pytest.mark.parametrize(
    ("value", "than", "mode", "less"),
    [
        (NO, YES, StoreMode.STATUS, True),
        (YES, NO, StoreMode.STATUS, False),
        (NO, None, StoreMode.STATUS, True),  # untracked or never seen: unsellable is less
        (YES, None, StoreMode.STATUS, False),
        (qty(3), qty(5), StoreMode.QUANTITY, True),
        (qty(3), qty(5), StoreMode.STATUS, False),  # a status store does not show counts
        (qty(5), qty(3), StoreMode.QUANTITY, False),
        (qty(0), qty(5), StoreMode.QUANTITY, True),
        (qty(3), Availability(True, None), StoreMode.QUANTITY, False),  # no count to compare: by flag
        (Availability(False, None), qty(3), StoreMode.QUANTITY, True),
    ],
)
def test_less_sellable(value: Availability, than: Availability | None, mode: StoreMode, less: bool) -> None:
    assert less_sellable(value, than, mode) is less


@given(a=values, b=values, mode=modes)
def test_less_sellable_is_a_strict_order(a: Availability, b: Availability, mode: StoreMode) -> None:
    assert not less_sellable(a, a, mode)
    assert not (less_sellable(a, b, mode) and less_sellable(b, a, mode))


def test_a_flip_below_what_we_applied_is_held() -> None:
    assert while_held(Change("e", NO, expected=YES), YES, StoreMode.STATUS) is None


def test_a_more_sellable_write_goes_out() -> None:
    change = Change("e", YES, expected=NO)
    assert while_held(change, NO, StoreMode.STATUS) is change


def test_an_oversell_correction_goes_out() -> None:
    change = Change("e", NO, expected=YES, reason="drift overwritten")  # we applied NO; the store sells
    assert while_held(change, NO, StoreMode.STATUS) is change


def test_an_oversold_count_is_cut_back_to_the_applied_count_not_below() -> None:
    change = Change("e", qty(4), expected=qty(15), reason="drift overwritten")
    allowed = while_held(change, qty(10), StoreMode.QUANTITY)
    assert allowed is not None and allowed.target == qty(10) and allowed.reason == "drift overwritten"


def test_a_first_sync_is_compared_with_what_the_store_shows() -> None:
    assert while_held(Change("e", NO, expected=YES), None, StoreMode.STATUS) is None
    assert while_held(Change("e", NO, expected=None), None, StoreMode.STATUS) is None  # untracked
    assert while_held(Change("e", YES, expected=NO), None, StoreMode.STATUS) is not None


@given(target=values, shown=st.none() | values, applied=st.none() | values, mode=modes)
def test_a_held_store_is_never_sent_less_than_it_is_protected_down_to(
    target: Availability, shown: Availability | None, applied: Availability | None, mode: StoreMode
) -> None:
    change = Change("e", target, expected=shown)
    allowed = while_held(change, applied, mode)
    floor = reference(change, applied)
    if not less_sellable(target, floor, mode):
        assert allowed is change  # nothing in the way: written as planned
    elif allowed is not None:
        assert not less_sellable(allowed.target, floor, mode)
        assert allowed.target == applied  # only ever cut down to what we applied
        assert shown is not None and less_sellable(allowed.target, shown, mode)  # and it stops an oversell


def test_held_message_names_the_trip_the_count_and_the_way_out() -> None:
    text = held_message("mass-unavailable guard: 4 of 10", 6, "na")
    assert "4 of 10" in text and "6 less-sellable" in text and "stocksync sync na --confirm-guard" in text
