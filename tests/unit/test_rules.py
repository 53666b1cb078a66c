"""Availability rules: the fulfiller's three named examples, store rules, and properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from daemon.model import Availability, FacilityStock, StockStatus, StoreMode, StoreRules, VariantKind
from daemon.rules import desired_for, same_value

IN, OUT, GONE = StockStatus.IN_STOCK, StockStatus.OUT_OF_STOCK, StockStatus.DISCONTINUED
NORTH_AMERICA = frozenset({"us-nc", "ca-on", "mx-ti"})
EUROPE = frozenset({"lv-ri", "es-ba", "gb-le"})
WORLDWIDE = NORTH_AMERICA | EUROPE | {"au-me"}
STATUS = StoreRules()


def pod(*rows: tuple[str, StockStatus]) -> list[FacilityStock]:
    return [FacilityStock(facility, status) for facility, status in rows]


def test_north_america_out_in_us_ca_mx_is_out_of_stock() -> None:
    stock = pod(("us-nc", OUT), ("ca-on", OUT), ("mx-ti", OUT), ("lv-ri", IN))
    assert desired_for(VariantKind.POD, stock, NORTH_AMERICA, STATUS) == Availability(False)


def test_out_only_in_europe_changes_nothing_for_north_america() -> None:
    before = pod(("us-nc", IN), ("lv-ri", IN), ("es-ba", IN))
    after = pod(("us-nc", IN), ("lv-ri", OUT), ("es-ba", OUT))
    assert desired_for(VariantKind.POD, before, NORTH_AMERICA, STATUS) == Availability(True)
    assert desired_for(VariantKind.POD, after, NORTH_AMERICA, STATUS) == Availability(True)


def test_worldwide_stays_available_while_latvia_or_spain_has_it() -> None:
    stock = pod(("us-nc", OUT), ("ca-on", OUT), ("mx-ti", OUT), ("lv-ri", IN), ("es-ba", OUT))
    assert desired_for(VariantKind.POD, stock, WORLDWIDE, STATUS) == Availability(True)
    stock = pod(("us-nc", OUT), ("lv-ri", OUT), ("es-ba", IN))
    assert desired_for(VariantKind.POD, stock, WORLDWIDE, STATUS) == Availability(True)
    stock = pod(("us-nc", OUT), ("lv-ri", GONE), ("es-ba", OUT))
    assert desired_for(VariantKind.POD, stock, WORLDWIDE, STATUS) == Availability(False)


def test_no_carrying_facility_in_region_is_unknown_not_out() -> None:
    assert desired_for(VariantKind.POD, pod(("lv-ri", OUT)), NORTH_AMERICA, STATUS) is None
    assert desired_for(VariantKind.POD, [], WORLDWIDE, STATUS) is None
    assert desired_for(VariantKind.WAREHOUSE, [], WORLDWIDE, STATUS) is None


def test_warehouse_sums_region_minus_buffer_floor_zero() -> None:
    stock = [FacilityStock("us-nc", IN, 4), FacilityStock("ca-on", IN, 3), FacilityStock("lv-ri", IN, 50)]
    rules = StoreRules(mode=StoreMode.QUANTITY, safety_buffer=2)
    assert desired_for(VariantKind.WAREHOUSE, stock, NORTH_AMERICA, rules) == Availability(True, 5)
    rules = StoreRules(mode=StoreMode.QUANTITY, safety_buffer=10)
    assert desired_for(VariantKind.WAREHOUSE, stock, NORTH_AMERICA, rules) == Availability(False, 0)
    assert desired_for(
        VariantKind.WAREHOUSE, stock, NORTH_AMERICA, StoreRules(safety_buffer=7)
    ) == Availability(False)


def test_warehouse_out_of_stock_facility_counts_zero_and_uncounted_is_unknown() -> None:
    rules = StoreRules(mode=StoreMode.QUANTITY)
    stock = [FacilityStock("us-nc", OUT, 9), FacilityStock("ca-on", IN, 2)]
    assert desired_for(VariantKind.WAREHOUSE, stock, NORTH_AMERICA, rules) == Availability(True, 2)
    stock = [FacilityStock("us-nc", IN, None), FacilityStock("ca-on", IN, 2)]
    assert desired_for(VariantKind.WAREHOUSE, stock, NORTH_AMERICA, rules) is None


def test_quantity_mode_caps_and_pod_quantity() -> None:
    rules = StoreRules(mode=StoreMode.QUANTITY, max_quantity=10, pod_quantity=25)
    assert desired_for(VariantKind.POD, pod(("us-nc", IN)), NORTH_AMERICA, rules) == Availability(True, 10)
    assert desired_for(VariantKind.POD, pod(("us-nc", OUT)), NORTH_AMERICA, rules) == Availability(False, 0)
    stock = [FacilityStock("us-nc", IN, 40)]
    assert desired_for(VariantKind.WAREHOUSE, stock, NORTH_AMERICA, rules) == Availability(True, 10)


def test_same_value_normalises_by_mode() -> None:
    assert same_value(Availability(True, 5), Availability(True, 9), StoreMode.STATUS)
    assert not same_value(Availability(True, 5), Availability(True, 9), StoreMode.QUANTITY)
    assert same_value(Availability(False, 0), Availability(False, None), StoreMode.QUANTITY)


facilities = st.sampled_from(sorted(WORLDWIDE))
stock_rows = st.lists(
    st.builds(FacilityStock, facilities, st.sampled_from(list(StockStatus)), st.integers(0, 1000)),
    unique_by=lambda row: row.facility_id,
)
rules_strategy = st.builds(
    StoreRules,
    mode=st.sampled_from(list(StoreMode)),
    safety_buffer=st.integers(0, 50),
    max_quantity=st.none() | st.integers(1, 500),
    pod_quantity=st.integers(1, 200),
)


@given(stock_rows, rules_strategy, st.sampled_from(list(VariantKind)))
def test_facilities_outside_the_region_never_matter(
    rows: list[FacilityStock], rules: StoreRules, kind: VariantKind
) -> None:
    inside = [row for row in rows if row.facility_id in NORTH_AMERICA]
    assert desired_for(kind, rows, NORTH_AMERICA, rules) == desired_for(kind, inside, NORTH_AMERICA, rules)


@given(stock_rows, rules_strategy, st.sampled_from(list(VariantKind)))
def test_desired_is_consistent(rows: list[FacilityStock], rules: StoreRules, kind: VariantKind) -> None:
    desired = desired_for(kind, rows, WORLDWIDE, rules)
    if not rows:
        assert desired is None
        return
    assert desired is not None
    if rules.mode is StoreMode.STATUS:
        assert desired.quantity is None
    else:
        assert desired.quantity is not None and desired.quantity >= 0
        assert desired.available == (desired.quantity > 0)
        if rules.max_quantity is not None:
            assert desired.quantity <= rules.max_quantity
    if all(row.status is not StockStatus.IN_STOCK for row in rows):
        assert desired.available is False


def test_unlimited_is_its_own_value_in_quantity_mode() -> None:
    unlimited = Availability(True, None, unlimited=True)
    for count in (Availability(True, 5), Availability(False, 0), Availability(True, None)):
        assert not same_value(unlimited, count, StoreMode.QUANTITY)
        assert not same_value(count, unlimited, StoreMode.QUANTITY)
    assert same_value(unlimited, Availability(True, None, unlimited=True), StoreMode.QUANTITY)
    # status mode: only the sellable flag counts
    assert same_value(unlimited, Availability(True, 5), StoreMode.STATUS)
    assert not same_value(unlimited, Availability(False, 0), StoreMode.STATUS)
