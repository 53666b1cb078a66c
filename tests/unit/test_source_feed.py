"""Feed documents parsed into snapshot rows: both formats, bad rows named by line and column, limits,
and the pure coverage checks a snapshot passes before anything is applied."""

from __future__ import annotations

import pytest

from daemon.model import StockStatus
from sources.checks import check_coverage, check_kinds
from sources.feed import parse_feed
from sources.interface import SourceConfig, SourceError, SourceStock

CSV = b"variant_id,facility_id,status,quantity\ntee,us1,in_stock,\nsocks,us1,out_of_stock,0\n"


def test_csv_rows_carry_their_line() -> None:
    rows = parse_feed(CSV, "csv", max_rows=10)
    assert rows == [
        SourceStock("tee", "us1", StockStatus.IN_STOCK, None, "feed:2"),
        SourceStock("socks", "us1", StockStatus.OUT_OF_STOCK, 0, "feed:3"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b'[{"variant_id": "tee", "facility_id": "us1", "status": "in_stock", "quantity": null}]',
        b'{"stock": [\n{"variant_id": "tee", "facility_id": "us1", "status": "in_stock", "quantity": null}]}',
    ],
)
def test_json_array_or_stock_object(body: bytes) -> None:
    [row] = parse_feed(body, "json", max_rows=10)
    assert (row.variant_id, row.status, row.quantity) == ("tee", StockStatus.IN_STOCK, None)


def test_wrapped_json_keeps_line_numbers_of_a_bad_row() -> None:
    body = (
        b'{"stock": [\n'
        b'  {"variant_id": "tee", "facility_id": "us1", "status": "in_stock", "quantity": null},\n'
        b'  {"variant_id": "mug", "facility_id": "us1", "status": "sold", "quantity": null}\n'
        b"]}\n"
    )
    with pytest.raises(SourceError, match=r"^feed:3: status: 'sold' is not one of"):
        parse_feed(body, "json", max_rows=10)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (CSV + b"mug,us1,in_stock,-1\n", "feed:4: quantity"),
        (CSV + b"mug,us1\n", "feed:4: row"),
        (b"variant_id,facility_id,status\ntee,us1,in_stock\n", "feed:1: quantity"),
        (CSV + b"tee,us1,in_stock,\n", "feed:4: variant_id,facility_id"),
    ],
)
def test_a_bad_csv_row_refuses_the_feed_naming_line_and_column(body: bytes, where: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_feed(body, "csv", max_rows=10)
    assert caught.value.where == where


def test_truncated_json_is_refused() -> None:
    body = b'[{"variant_id": "tee", "facility_id": "us1", "status": "in_stock", "quantity": null}, {"varia'
    with pytest.raises(SourceError, match=r"^feed:1: json"):
        parse_feed(body, "json", max_rows=10)


@pytest.mark.parametrize(
    ("body", "fmt"), [(b"[]", "json"), (b"variant_id,facility_id,status,quantity\n", "csv")]
)
def test_an_empty_feed_is_refused_not_read_as_out_of_stock(body: bytes, fmt: str) -> None:
    with pytest.raises(SourceError, match="no rows"):
        parse_feed(body, fmt, max_rows=10)


def test_more_rows_than_max_rows_are_refused() -> None:
    with pytest.raises(SourceError, match="more than max_rows 1"):
        parse_feed(CSV, "csv", max_rows=1)


def test_mapped_feed_translates_upstream_ids_and_refuses_unmapped_ones() -> None:
    body = b"variant_id,facility_id,status,quantity\nUP-1,us1,in_stock,\n"
    [row] = parse_feed(body, "csv", max_rows=10, variants={"UP-1": "tee"})
    assert row.variant_id == "tee"
    with pytest.raises(SourceError, match=r"feed:2: variant_id"):
        parse_feed(body, "csv", max_rows=10, variants={"UP-2": "mug"})


def _source(variants: dict[str, str] | None = None) -> SourceConfig:
    return SourceConfig("feed1", "http_feed", {}, None, frozenset({"us1"}), variants or {})


def test_rows_outside_the_source_facilities_or_mappings_are_refused() -> None:
    outside = SourceStock("tee", "lv1", StockStatus.IN_STOCK, None, "feed:7")
    with pytest.raises(SourceError, match=r"^feed:7: facility_id: facility 'lv1' is not one of"):
        check_coverage(_source(), [outside])
    unmapped = SourceStock("mug", "us1", StockStatus.IN_STOCK, None)
    with pytest.raises(SourceError, match=r"^rows\[0\]: variant_id"):
        check_coverage(_source({"UP-1": "tee"}), [unmapped])


def test_kinds_need_a_count_for_warehouse_and_none_for_pod() -> None:
    kinds = {"tee": "pod", "socks": "warehouse"}
    check_kinds([SourceStock("tee", "us1", StockStatus.IN_STOCK, None)], kinds)
    with pytest.raises(SourceError, match="quantity: required for a warehouse"):
        check_kinds([SourceStock("socks", "us1", StockStatus.IN_STOCK, None)], kinds)
    with pytest.raises(SourceError, match="variant_id: unknown variant 'hat'"):
        check_kinds([SourceStock("hat", "us1", StockStatus.IN_STOCK, None)], kinds)
