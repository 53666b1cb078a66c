"""Drift listing parameters: cursors round-trip exactly, and every bad value is refused naming its field."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.drift_listing import (
    MAX_ID,
    MAX_LIMIT,
    DriftFilter,
    Position,
    decode_cursor,
    encode_cursor,
    filter_from_query,
    page_span,
    parse_age,
    parse_limit,
)
from daemon.errors import InputError

# hypothesis takes naive bounds and attaches the timezone itself
INSTANTS = st.datetimes(
    min_value=datetime(1900, 1, 1),  # noqa: DTZ001
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(at=INSTANTS, record_id=st.integers(0, MAX_ID))
def test_a_cursor_names_exactly_the_position_it_was_made_from(at: datetime, record_id: int) -> None:
    token = encode_cursor(Position(at, record_id))
    assert token.isascii() and "=" not in token and len(token) <= 64
    assert decode_cursor(token) == Position(at, record_id)


def token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    [
        "not-a-cursor",
        "%%%",
        token("123"),
        token("1.-1"),
        token(f"1.{MAX_ID + 1}"),
        token("1.2.3"),
        token("١٢.3"),  # non-ASCII digits
        token("999999999999999999.1"),  # beyond year 9999
        "A" * 65,
        "é",
    ],
)
def test_a_bad_cursor_is_refused_naming_the_parameter(raw: str) -> None:
    with pytest.raises(InputError) as caught:
        decode_cursor(raw, field="before")
    assert caught.value.field == "before"


def test_no_cursor_means_from_the_start() -> None:
    assert decode_cursor(None) is None and decode_cursor("") is None


@pytest.mark.parametrize("raw", ["0", "-1", "1001", "abc", "1e3", "2.5", "٣", "9" * 5000])
def test_a_bad_limit_is_refused(raw: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_limit(raw)
    assert caught.value.field == "limit"


def test_limits_within_bounds_and_the_default() -> None:
    assert [parse_limit(v) for v in (None, "", "1", " 25 ", str(MAX_LIMIT))] == [100, 100, 1, 25, MAX_LIMIT]


@pytest.mark.parametrize("raw", ["-1", "nan", "inf", "abc", "1e400", "99999999999"])
def test_a_bad_age_is_refused(raw: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_age(raw)
    assert caught.value.field == "age"


def test_filters_from_a_query() -> None:
    assert filter_from_query({}) == DriftFilter(None, "open", None)
    assert filter_from_query({"store": " na ", "status": "all", "age": "1.5"}) == DriftFilter(
        "na", "all", 1.5
    )
    with pytest.raises(InputError) as caught:
        filter_from_query({"status": "closed"})
    assert caught.value.field == "status"


def test_page_span() -> None:
    middle = page_span(100, 100, 1500)
    assert (middle.first, middle.last, middle.has_newer, middle.has_older) == (101, 200, True, True)
    last = page_span(1400, 100, 1500)
    assert (last.first, last.last, last.has_older) == (1401, 1500, False)
    empty = page_span(0, 0, 0)
    assert (empty.first, empty.last, empty.has_newer, empty.has_older) == (0, 0, False, False)


def test_microseconds_survive_the_cursor() -> None:
    at = datetime(2026, 12, 7, 16, 0, tzinfo=UTC) + timedelta(microseconds=999_999)
    decoded = decode_cursor(encode_cursor(Position(at, 7)))
    assert decoded is not None and decoded.detected_at == at
