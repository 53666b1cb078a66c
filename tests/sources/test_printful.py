"""PrintfulReader's pure parts (settings, pages, availability and warehouse rows, webhooks) and its
requests at the wire (aioresponses)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from daemon.credentials import Secret
from daemon.errors import InputError
from daemon.model import StockStatus
from reconcilers.transport import AuthError
from sources import reader_for
from sources.interface import SourceConfig, SourceContext, SourceError, SourceStock, Validators
from sources.printful import PrintfulReader
from sources.printful_availability import (
    availability_rows,
    covered,
    merged,
    page_items,
    parse_settings,
    warehouse_rows,
)
from tests.reconcilers.wire import quick_transport

TOKEN = "pf-wire-token-abcdef0123"
WEBHOOK_SECRET = "0a1b2c3d" * 16
FACILITIES = frozenset({"pf-us", "pf-eu", "pf-wh"})
API = "https://api.printful.com"
SETTINGS: dict[str, Any] = {"regions": {"north_america": "pf-us", "europe": "pf-eu"}, "technique": "dtg"}


def reader(
    session: aiohttp.ClientSession,
    variants: dict[str, str] | None = None,
    credential: str | None = None,
    **settings: Any,
) -> PrintfulReader:
    value = (
        credential
        if credential is not None
        else json.dumps({"token": TOKEN, "webhook_secret": WEBHOOK_SECRET})
    )
    source = SourceConfig(
        "pf",
        "printful",
        {**SETTINGS, **settings},
        "printful",
        FACILITIES,
        {"4011": "tee"} if variants is None else variants,
    )
    context = SourceContext(source, quick_transport(session, "printful", "pf"), Secret("printful", value))
    built = reader_for(context)
    assert isinstance(built, PrintfulReader)
    return built


def variant(number: int, **regions: str) -> dict[str, Any]:
    selling = [
        {"name": n, "availability": a, "placement_option_availability": []} for n, a in regions.items()
    ]
    return {"catalog_variant_id": number, "techniques": [{"technique": "dtg", "selling_regions": selling}]}


def page(data: list[Any], total: int, offset: int = 0, limit: int = 100) -> dict[str, Any]:
    return {"data": data, "paging": {"total": total, "offset": offset, "limit": limit}}


# -- settings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key", "reason"),
    [
        ({"regions": {"north_america": "pf-mx"}}, "settings: regions.north_america", "not one of"),
        ({"regions": {"usa": "pf-us"}}, "settings: regions.usa", "not a Printful selling region"),
        ({"regions": {}}, "settings: regions", "map at least one"),
        ({**SETTINGS, "technique": "laser"}, "settings: technique", "not a Printful technique"),
        ({**SETTINGS, "products": ["71"]}, "settings: products", "positive integers"),
        ({**SETTINGS, "products": [True]}, "settings: products", "positive integers"),
        ({**SETTINGS, "store": "12"}, "settings: store", "unknown setting"),
        ({**SETTINGS, "store_id": " "}, "settings: store_id", "non-empty text"),
        (
            {"warehouse_facilities": {"Riga, Latvia": "pf-lv"}},
            "settings: warehouse_facilities.Riga, Latvia",
            "not one of",
        ),
    ],
)
def test_bad_settings_name_the_key(settings: dict[str, Any], key: str, reason: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_settings(settings, FACILITIES)
    assert caught.value.where == key
    assert reason in caught.value.reason


def test_settings_defaults_and_the_region_query() -> None:
    one = parse_settings({"regions": {"europe": "pf-eu"}, "store_id": 12}, FACILITIES)
    assert (one.technique, one.base_url, one.store_id, one.region_query) == ("dtg", API, "12", "europe")
    assert parse_settings(SETTINGS, FACILITIES).region_query == "all"
    only_warehouse = parse_settings({"warehouse_facilities": {"Riga, Latvia": "pf-wh"}}, FACILITIES)
    assert only_warehouse.regions == {}


def test_covered_splits_catalog_and_warehouse_ids_and_refuses_others() -> None:
    split = covered(
        {"4011": "tee", "warehouse:32453": "hoodie", "4012": "tee-m"}, frozenset({"4011", "warehouse:32453"})
    )
    assert (dict(split.catalog), dict(split.warehouse)) == ({4011: "tee"}, {32453: "hoodie"})
    for bad in ("SKU-1", "warehouse:", "-4", "0", "٤٠١١"):
        with pytest.raises(SourceError) as caught:
            covered({bad: "x"})
        assert repr(bad) in caught.value.where


# -- pages and rows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (None, "body"),
        ({"paging": {"total": 0, "offset": 0, "limit": 100}}, "body.data"),
        ({"data": []}, "body.paging"),
        ({"data": [], "paging": {"total": "1", "offset": 0, "limit": 100}}, "body.paging.total"),
        (page([1], 3, offset=100), "body.paging.offset"),
        (page([1, 2], 3), "body.data"),  # a short page: truncated
        (page([1, 2, 3], 2), "body.data"),  # more than the paging says
        (page([], 5), "body.data"),
    ],
)
def test_a_page_that_does_not_add_up_is_refused(body: Any, where: str) -> None:
    with pytest.raises(SourceError) as caught:
        page_items(body, 0)
    assert caught.value.where == where


def test_a_full_and_a_last_page_are_read() -> None:
    assert page_items(page([1, 2], 2), 0) == ([1, 2], 2)
    assert page_items(page([3], 101, offset=100), 100) == ([3], 101)
    assert page_items(page([], 0), 0) == ([], 0)


def test_availability_maps_the_documented_values_and_ignores_unmapped_regions() -> None:
    settings = parse_settings({**SETTINGS, "regions": {**SETTINGS["regions"], "canada": "pf-us"}}, FACILITIES)
    entries = [
        ("a", variant(1, north_america="in stock", europe="out of stock", worldwide="in stock")),
        ("b", variant(2, north_america="not fulfillable", europe="unknown")),
        ("c", variant(3, north_america="out of stock", canada="in stock")),
        ("d", variant(99, europe="in stock")),
    ]
    rows, seen = availability_rows(entries, {1: "v1", 2: "v2", 3: "v3"}, settings)
    assert seen == {1, 2, 3}
    assert merged(rows) == [
        SourceStock("v1", "pf-us", StockStatus.IN_STOCK, None),
        SourceStock("v1", "pf-eu", StockStatus.OUT_OF_STOCK, None),
        SourceStock("v2", "pf-us", StockStatus.OUT_OF_STOCK, None),
        SourceStock("v3", "pf-us", StockStatus.IN_STOCK, None),  # canada has it: the facility does
    ]


@pytest.mark.parametrize(
    ("entry", "where", "reason"),
    [
        (
            variant(1, europe="backordered"),
            "x.techniques[0].selling_regions[0].availability",
            "unknown value 'backordered'",
        ),
        (variant(1, europe=None), "x.techniques[0].selling_regions[0].availability", "unknown value None"),  # type: ignore[arg-type]
        ({"catalog_variant_id": 1}, "x.techniques", "missing"),
        (
            {"catalog_variant_id": 1, "techniques": [{"technique": "embroidery", "selling_regions": []}]},
            "x.techniques",
            "no 'dtg' entry",
        ),
        ({"catalog_variant_id": "1", "techniques": []}, "x.catalog_variant_id", "positive integer"),
        (
            {"catalog_variant_id": 1, "techniques": [{"technique": "dtg"}]},
            "x.techniques[0].selling_regions",
            "missing",
        ),
        (
            {"catalog_variant_id": 1, "techniques": [{"technique": "dtg", "selling_regions": [{}]}]},
            "x.techniques[0].selling_regions[0].name",
            "missing",
        ),
    ],
)
def test_a_bad_availability_entry_names_its_path(entry: Any, where: str, reason: str) -> None:
    settings = parse_settings(SETTINGS, FACILITIES)
    with pytest.raises(SourceError) as caught:
        availability_rows([("x", entry)], {1: "v1"}, settings)
    assert caught.value.where == where
    assert reason in caught.value.reason


def test_warehouse_rows_add_up_mapped_facilities_and_refuse_bad_counts() -> None:
    settings = parse_settings({"warehouse_facilities": {"Charlotte": "pf-wh", "Dallas": "pf-wh"}}, FACILITIES)
    body = {
        "data": {
            "warehouse_variants": [
                {
                    "id": 7,
                    "stock_location": [
                        {"facility": "Charlotte", "stocked": 9, "available": 4},
                        {"facility": "Dallas", "stocked": 2, "available": 2},
                        {"facility": "Riga", "stocked": 1, "available": 1},
                    ],
                },
                {"id": 8, "stock_location": []},
            ]
        }
    }
    rows, seen = warehouse_rows(body, {7: "v7", 8: "v8"}, settings)
    assert seen == {7, 8}
    assert merged(rows) == [SourceStock("v7", "pf-wh", StockStatus.IN_STOCK, 6)]
    body["data"]["warehouse_variants"][0]["stock_location"][1]["available"] = -1  # type: ignore[index]
    with pytest.raises(SourceError) as caught:
        warehouse_rows(body, {7: "v7"}, settings)
    assert caught.value.where == "body.data.warehouse_variants[0].stock_location[1].available"


# -- at the wire -------------------------------------------------------------------------------------


async def test_requests_carry_the_bearer_token_store_id_and_filters(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        url = re.compile(r"^https://api\.printful\.com/v2/catalog-products/71/availability\?.*$")
        mocked.get(url, payload=page([variant(4011, north_america="in stock", europe="out of stock")], 1))
        snapshot = await reader(session, products=[71], store_id="12").pull(Validators())
        ((method, sent), calls) = next(iter(mocked.requests.items()))
    assert method == "GET"
    assert dict(sent.query) == {
        "selling_region_name": "all",
        "techniques": "dtg",
        "limit": "100",
        "offset": "0",
    }
    headers = calls[0].kwargs["headers"]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["X-PF-Store-Id"] == "12"
    assert len(snapshot.rows) == 2  # type: ignore[union-attr]


async def test_a_refused_token_is_an_auth_error_without_the_token(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(
            re.compile(r"^https://api\.printful\.com/v2/catalog-variants/4011/availability.*$"),
            status=401,
            payload={
                "code": 401,
                "result": f"Bad token {TOKEN}",
                "error": {"reason": "Unauthorized", "message": f"Bad token {TOKEN}"},
            },
        )
        with pytest.raises(AuthError) as caught:
            await reader(session).pull(Validators())
    assert TOKEN not in str(caught.value)


async def test_an_answer_for_another_variant_is_refused(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(
            re.compile(r"^https://api\.printful\.com/v2/catalog-variants/4011/availability.*$"),
            payload={"data": variant(4012, europe="in stock")},
        )
        with pytest.raises(SourceError) as caught:
            await reader(session).pull(Validators())
    assert caught.value.where == "body.data.catalog_variant_id"


async def test_a_full_pull_without_mappings_is_refused_and_a_partial_one_of_nothing_reads_nothing(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses():  # any request would fail: none is expected
        empty = reader(session, variants={})
        with pytest.raises(SourceError):
            await empty.pull(Validators())
        snapshot = await reader(session).pull(Validators(), only=frozenset({"999"}))
    assert list(snapshot.rows) == [] and not snapshot.complete  # type: ignore[union-attr]


# -- credential and webhooks -------------------------------------------------------------------------


def test_credential_is_a_token_or_json_and_errors_never_show_it(session: aiohttp.ClientSession) -> None:
    assert reader(session, credential=TOKEN).verify_callback({}, b"{}") is False  # no webhook secret
    for value, needle in (
        (" ", "empty"),
        (json.dumps({"webhook_secret": WEBHOOK_SECRET}), "'token' is missing"),
        ('{"token": "' + TOKEN, "neither a token nor a JSON object"),
    ):
        with pytest.raises(SourceError) as caught:
            reader(session, credential=value)
        assert needle in str(caught.value)
        assert WEBHOOK_SECRET not in str(caught.value) and TOKEN not in str(caught.value)
    source = SourceConfig("pf", "printful", SETTINGS, None, FACILITIES, {"4011": "tee"})
    with pytest.raises(SourceError) as missing:
        PrintfulReader(SourceContext(source, quick_transport(session, "printful", "pf"), None))
    assert missing.value.where == "credential"


def signed(body: bytes, key: bytes, public_key: str = "pk") -> dict[str, str]:
    return {
        "X-PF-Webhook-Signature": hmac.new(key, body, hashlib.sha256).hexdigest(),
        "x-pf-webhook-public-key": public_key,
    }


def test_webhook_signature_with_the_hex_decoded_or_the_text_key(session: aiohttp.ClientSession) -> None:
    pf = reader(session)
    body = b'{"type": "catalog_stock_updated"}'
    assert pf.verify_callback(signed(body, bytes.fromhex(WEBHOOK_SECRET)), body)
    assert pf.verify_callback(signed(body, WEBHOOK_SECRET.encode()), body)  # unverified reading of the docs
    assert not pf.verify_callback(signed(body + b" ", bytes.fromhex(WEBHOOK_SECRET)), body)
    assert not pf.verify_callback(signed(body, b"another secret"), body)
    assert not pf.verify_callback({"x-pf-webhook-signature": "zz" * 32}, body)
    assert not pf.verify_callback({}, body)
    pinned = reader(session, webhook_public_key="pk-config-1")
    assert pinned.verify_callback(signed(body, bytes.fromhex(WEBHOOK_SECRET), "pk-config-1"), body)
    assert not pinned.verify_callback(signed(body, bytes.fromhex(WEBHOOK_SECRET), "pk-other"), body)


def test_stock_webhook_names_the_covered_variants_to_pull(session: aiohttp.ClientSession) -> None:
    pf = reader(session, variants={"4011": "tee-s", "4012": "tee-m"})
    event = {
        "type": "catalog_stock_updated",
        "occurred_at": "2026-12-07T09:00:00Z",
        "retries": 2,
        "store_id": 12,
        "data": [
            {
                "catalog_product_id": 71,
                "catalog_variant_id": 4011,
                "techniques": ["dtg"],
                "availability": "out of stock",
            },
            {
                "catalog_product_id": 71,
                "catalog_variant_id": 5000,
                "techniques": ["dtg"],
                "availability": "in stock",
            },
        ],
    }
    callback = pf.parse_callback({}, json.dumps(event).encode())
    assert callback.pull_ids == frozenset({"4011"})
    assert callback.rows == () and callback.delivery_id is None
    assert (
        callback.occurred_at is not None and callback.occurred_at.isoformat() == "2026-12-07T09:00:00+00:00"
    )
    assert (
        pf.parse_callback({}, json.dumps({**event, "type": "order_created", "data": {}}).encode()).pull_ids
        == frozenset()
    )


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "stock_updated"}, "body.type"),
        ({"type": "catalog_stock_updated", "occurred_at": "yesterday", "data": []}, "body.occurred_at"),
        ({"type": "catalog_stock_updated", "data": {}}, "body.data"),
        (
            {"type": "catalog_stock_updated", "data": [{"catalog_variant_id": "4011"}]},
            "body.data[0].catalog_variant_id",
        ),
        ([], "body"),
        ({"type": "catalog_stock_updated", "data": [{"catalog_variant_id": 1}] * 10_001}, "body.data"),
    ],
)
def test_a_bad_webhook_body_names_the_field(session: aiohttp.ClientSession, event: Any, field: str) -> None:
    with pytest.raises(InputError) as caught:
        reader(session).parse_callback({}, json.dumps(event).encode())
    assert caught.value.field == field
