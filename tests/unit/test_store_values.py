"""Store values at the reconciler boundary (daemon/store_values.py): what the state database can hold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from daemon.model import Observed
from daemon.store_values import INT4_MAX, INT4_MIN, screen, whole_count


def test_values_the_database_holds_pass_unchanged() -> None:
    items = [
        Observed("a", True, INT4_MAX),
        Observed("b", False, INT4_MIN),  # oversold: negative stock is kept as seen
        Observed("c", None),
        Observed("d", True, None, unlimited=True),
    ]
    assert screen(items) == (items, {})


@pytest.mark.parametrize(
    "quantity", [INT4_MAX + 1, INT4_MIN - 1, 3_000_000_000, pytest.param(10**5000, id="5000-digits")]
)
def test_a_count_beyond_the_database_is_a_readable_per_item_problem(quantity: int) -> None:
    good = Observed("ok", True, 3)
    kept, problems = screen([good, Observed("bad", True, quantity)])
    assert kept == [good]
    assert list(problems) == ["bad"]
    reason = problems["bad"]
    assert "beyond" in reason and str(INT4_MAX) in reason and len(reason) < 200


def test_a_problem_a_reconciler_reported_is_kept_and_an_unlimited_count_is_refused() -> None:
    kept, problems = screen(
        [Observed("x", None, problem="stock 'abc' is not a number"), Observed("y", True, 5, unlimited=True)]
    )
    assert kept == [] and problems["x"] == "stock 'abc' is not a number"
    assert "unlimited" in problems["y"]


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (Decimal("3"), 3),
        (Decimal("2.9"), 2),  # a fractional stock is rounded down
        (Decimal("0"), 0),
        (Decimal("-4"), -4),
        (Decimal(INT4_MAX), INT4_MAX),
        (Decimal("3000000000"), None),
        (Decimal("1e20"), None),
        (Decimal("1e999999999"), None),  # int() of it would never return
        (Decimal("-1e999999999"), None),
        pytest.param(Decimal("9" * 5000), None, id="5000-nines"),
        (Decimal("Infinity"), None),
        (Decimal("NaN"), None),
        (7.0, 7),
        (float("inf"), None),
        (float("nan"), None),
        (1e300, None),
        (12, 12),
        pytest.param(10**5000, None, id="5000-digit-int"),
    ],
)
def test_whole_count_is_bounded(value: Decimal | float | int, count: int | None) -> None:
    assert whole_count(value) == count
