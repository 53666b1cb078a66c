"""The pure half of the hubrise_location source: inventory entries and callback events → facility stock."""

from __future__ import annotations

import ast
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from daemon.errors import ConfigError, InputError
from daemon.model import StockStatus
from sources.hubrise_events import parse_event
from sources.hubrise_inventory import coverage, keys_of, read_inventory, snapshot_rows
from sources.interface import SourceError, SourceStock

IN, OUT = StockStatus.IN_STOCK, StockStatus.OUT_OF_STOCK
COVERED = coverage("pos", "sku", "paris", {"COKE": "v-coke", "PEPSI": "v-pepsi", "FANTA": "v-fanta"})


def rows(document: Any, only: list[str] | None = None) -> list[SourceStock]:
    wanted = None if only is None else keys_of(COVERED, only)
    return snapshot_rows(COVERED, read_inventory(document), wanted)


def event(**fields: Any) -> bytes:
    base = {
        "id": "ev1",
        "resource_type": "inventory",
        "event_type": "patch",
        "created_at": "2026-12-07T21:30:00+01:00",
        "catalog_id": "cat1",
        "location_id": "loc-1",
    }
    return json.dumps({**base, **fields}).encode()


def test_zero_is_out_a_positive_stock_in_and_no_entry_in_stock_without_a_count() -> None:
    got = rows([{"sku_ref": "COKE", "stock": "3"}, {"sku_ref": "PEPSI", "stock": "0"}])
    assert got == [
        SourceStock("v-coke", "paris", IN, 3),
        SourceStock("v-pepsi", "paris", OUT, 0),
        SourceStock("v-fanta", "paris", IN, None),  # no entry: unlimited supply
    ]


def test_an_empty_inventory_is_everything_in_stock() -> None:
    # HubRise's default inventory is empty: every covered variant is in stock, none is left out
    assert rows([]) == [SourceStock(v, "paris", IN, None) for v in ("v-coke", "v-pepsi", "v-fanta")]


def test_fractional_stock_rounds_down_but_a_positive_one_never_reads_as_zero() -> None:
    got = rows(
        [
            {"sku_ref": "COKE", "stock": "2.500"},
            {"sku_ref": "PEPSI", "stock": "0.5"},
            {"sku_ref": "FANTA", "stock": 4},
        ]
    )
    assert [(r.status, r.quantity) for r in got] == [(IN, 2), (IN, 1), (IN, 4)]  # 4: older docs' JSON number


def test_refs_the_source_does_not_cover_are_ignored_and_options_are_other_refs() -> None:
    got = rows([{"sku_ref": "WATER", "stock": "0"}, {"option_ref": "COKE", "stock": "0"}])
    assert all(r.status is IN for r in got)  # option COKE is not sku COKE


def test_a_partial_read_names_only_the_asked_ids() -> None:
    got = rows([{"sku_ref": "PEPSI", "stock": "0"}], only=["PEPSI", "FANTA", "NOT-COVERED"])
    assert got == [SourceStock("v-pepsi", "paris", OUT, 0), SourceStock("v-fanta", "paris", IN, None)]


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"sku_ref": "COKE", "stock": "0"}, "inventory"),  # an object, not the list
        (None, "inventory"),  # an empty body
        ([{"sku_ref": "COKE", "stock": "0"}, "x"], "inventory[1].entry"),
        ([{"stock": "0"}], "inventory[0].sku_ref"),
        ([{"sku_ref": "A", "option_ref": "B", "stock": "0"}], "inventory[0].sku_ref"),
        ([{"sku_ref": "COKE", "stock": "-1"}], "inventory[0].stock"),
        ([{"sku_ref": "COKE", "stock": "lots"}], "inventory[0].stock"),
        ([{"sku_ref": "COKE", "stock": "1e999999999"}], "inventory[0].stock"),
        ([{"sku_ref": "COKE", "stock": True}], "inventory[0].stock"),
        ([{"sku_ref": "COKE", "stock": None}], "inventory[0].stock"),
        ([{"sku_ref": "COKE", "stock": "1"}, {"sku_ref": "COKE", "stock": "0"}], "inventory[1]"),
    ],
)
def test_a_doubtful_document_is_refused_whole_naming_the_place(document: Any, where: str) -> None:
    with pytest.raises(SourceError) as caught:
        rows(document)
    assert caught.value.where == where


def test_refs_of_both_kinds_are_written_with_their_kind() -> None:
    both = coverage("pos", "both", "paris", {"sku:COKE": "v1", "option:EGG": "v2"})
    stocks = read_inventory([{"option_ref": "EGG", "stock": "0"}, {"sku_ref": "EGG", "stock": "5"}])
    assert snapshot_rows(both, stocks) == [
        SourceStock("v1", "paris", IN, None),
        SourceStock("v2", "paris", OUT, 0),
    ]


@pytest.mark.parametrize(
    ("ref_kind", "mappings", "message"),
    [
        ("variant", {"A": "v1"}, "ref_kind: must be one of sku, option, both"),
        ("both", {"COKE": "v1"}, "is not 'sku:<ref>' or 'option:<ref>'"),
        ("sku", {"A": "v1", "B": "v1"}, "mapped from two HubRise refs"),
        ("sku", {}, "needs source mappings"),
    ],
)
def test_coverage_refuses_what_it_cannot_read(ref_kind: str, mappings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        coverage("pos", ref_kind, "paris", mappings)
    assert caught.value.key.startswith("sources.pos.")


def test_a_patch_event_carries_rows_its_time_and_its_id() -> None:
    body = event(
        state_change=[
            {"sku_ref": "COKE", "stock": "0"},
            {"sku_ref": "PEPSI", "stock": None},  # entry removed: unlimited again
            {"sku_ref": "WATER", "stock": "0"},  # not covered
            {"sku_ref": "FANTA", "stock": "7"},
        ]
    )
    callback = parse_event(body, "cat1", "loc-1", COVERED)
    assert list(callback.rows) == [
        SourceStock("v-coke", "paris", OUT, 0),
        SourceStock("v-pepsi", "paris", IN, None),
        SourceStock("v-fanta", "paris", IN, 7),
    ]
    assert callback.occurred_at == datetime(2026, 12, 7, 21, 30, tzinfo=timezone(timedelta(hours=1)))
    assert callback.delivery_id == "ev1" and callback.pull_ids == frozenset()


def test_an_update_event_asks_for_a_pull_of_every_covered_ref() -> None:
    callback = parse_event(event(event_type="update"), "cat1", "loc-1", COVERED)
    assert callback.rows == () and callback.pull_ids == frozenset({"COKE", "PEPSI", "FANTA"})
    assert callback.delivery_id == "ev1" and callback.occurred_at is not None


@pytest.mark.parametrize("other", [{"location_id": "loc-2"}, {"catalog_id": "cat2"}])
def test_another_inventory_s_event_applies_nothing(other: dict[str, str]) -> None:
    body = event(state_change=[{"sku_ref": "COKE", "stock": "0"}], **other)
    callback = parse_event(body, "cat1", "loc-1", COVERED)
    assert callback.rows == () and callback.pull_ids == frozenset() and callback.delivery_id == "ev1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (event(resource_type="order"), "resource_type"),
        (event(event_type="delete"), "event_type"),
        (event(created_at=None, state_change=[]), "created_at"),
        (event(created_at="yesterday", state_change=[]), "created_at"),
        (event(created_at="2026-12-07T21:30:00", state_change=[]), "created_at"),
        (event(id=12, state_change=[]), "id"),
        (event(location_id=7, state_change=[]), "location_id"),
        (event(), "state_change"),
        (event(state_change={"sku_ref": "COKE"}), "state_change"),
        (event(state_change=[{"sku_ref": "COKE", "stock": "0"}, {"stock": "1"}]), "state_change[1].sku_ref"),
        (event(state_change=[{"sku_ref": "COKE", "stock": "-2"}]), "state_change[0].stock"),
        (event(state_change=[{"sku_ref": "COKE", "stock": "0"}] * 10_001), "state_change"),
    ],
)
def test_a_bad_event_is_refused_naming_the_field(body: bytes, field: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_event(body, "cat1", "loc-1", COVERED)
    assert caught.value.where == "callback" and caught.value.field == field


def test_the_source_modules_do_not_import_the_hubrise_store_modules() -> None:
    # platform modules stay independent: what both need lives in the kit modules
    root = Path(__file__).resolve().parents[2] / "sources"
    modules = sorted(root.glob("hubrise_*.py"))
    assert [m.name for m in modules] == ["hubrise_events.py", "hubrise_inventory.py", "hubrise_location.py"]
    for module in modules:
        tree = ast.parse(module.read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {i for i in imported if i.startswith("reconcilers.hubrise")}, module.name
