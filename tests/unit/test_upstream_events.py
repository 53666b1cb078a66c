"""Upstream event batches: valid ones parse; every bad field is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from daemon.errors import InputError
from daemon.model import StockStatus
from daemon.upstream_events import MAX_CLOCK_SKEW, parse_stock_events

GOOD: dict[str, object] = {
    "event_id": "e1",
    "variant_id": "tee",
    "facility_id": "us1",
    "status": "out_of_stock",
    "quantity": None,
    "occurred_at": "2026-11-23T10:00:00Z",
}


NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def body(*events: dict[str, object]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def test_valid_batch_parses() -> None:
    [event] = parse_stock_events(body(GOOD | {"quantity": 4}), NOW)
    assert event.status is StockStatus.OUT_OF_STOCK and event.quantity == 4
    assert event.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b"{not json", "body: json:"),
        (b"[]", "body: events:"),
        (json.dumps({"events": []}).encode(), "body: events: must not be empty"),
        (body(GOOD, GOOD | {"status": "sold"}), "events[1]: status:"),
        (body(GOOD | {"quantity": -1}), "events[0]: quantity:"),
        (body(GOOD | {"quantity": 1.5}), "events[0]: quantity:"),
        (body(GOOD | {"quantity": True}), "events[0]: quantity:"),
        (body(GOOD | {"quantity": 10**12}), "events[0]: quantity: out of range"),
        (body(GOOD | {"occurred_at": "2026-11-23T10:00:00"}), "events[0]: occurred_at: needs a time zone"),
        (body(GOOD | {"occurred_at": "yesterday"}), "events[0]: occurred_at:"),
        (body(GOOD | {"variant_id": ""}), "events[0]: variant_id:"),
        (body(GOOD | {"extra": 1}), "events[0]: extra: unknown field"),
        (body("nope"), "events[0]: event:"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_names_the_field(raw: bytes, named: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_stock_events(raw, NOW)
    assert str(caught.value).startswith(named)


def test_an_event_dated_beyond_the_clock_skew_is_refused_naming_it() -> None:
    assert MAX_CLOCK_SKEW == timedelta(minutes=5)
    soon = (NOW + MAX_CLOCK_SKEW).isoformat()
    [ok] = parse_stock_events(body(GOOD | {"occurred_at": soon}), NOW)  # a sender's clock a bit ahead
    assert ok.occurred_at == NOW + MAX_CLOCK_SKEW
    late = (NOW + MAX_CLOCK_SKEW + timedelta(seconds=1)).isoformat()
    events = [GOOD | {"event_id": f"e{i}"} for i in range(3)] + [
        GOOD | {"event_id": "e3", "occurred_at": late}
    ]
    with pytest.raises(InputError) as caught:
        parse_stock_events(body(*events), NOW)
    assert str(caught.value).startswith("events[3]: occurred_at: ")
    assert "future" in str(caught.value)
