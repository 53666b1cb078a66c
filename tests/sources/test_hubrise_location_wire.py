"""HubRiseLocationReader at the wire (aioresponses): the exact request, every answer shape, settings
and credential refusals, callback signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from daemon.credentials import Secret
from daemon.errors import ConfigError, CredentialError
from daemon.model import StockStatus
from reconcilers.transport import AuthError, PermanentError, TemporaryError
from sources import reader_for
from sources.hubrise_location import HubRiseLocationReader
from sources.interface import (
    NotModified,
    Snapshot,
    SourceConfig,
    SourceContext,
    SourceError,
    SourceStock,
    Validators,
)
from tests.reconcilers.wire import quick_transport

TOKEN, CLIENT_SECRET = "hr-src-access-token-0123", "hr-src-client-secret-4567"
CREDENTIAL = Secret("pos-hubrise", json.dumps({"access_token": TOKEN, "client_secret": CLIENT_SECRET}))
URL_INV = "https://api.hubrise.com/v1/catalogs/87yu4/locations/3r4s3-1/inventory"
MAPPINGS = {"COKE": "v-coke", "PEPSI": "v-pepsi", "EGG-BOX": "v-eggs"}
IN, OUT = StockStatus.IN_STOCK, StockStatus.OUT_OF_STOCK


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def context(
    session: aiohttp.ClientSession, credential: Secret | None = CREDENTIAL, **settings: Any
) -> SourceContext:
    config = SourceConfig(
        "pos",
        "hubrise_location",
        {"catalog_id": "87yu4", "location_id": "3r4s3-1", "facility_id": "paris", **settings},
        "pos-hubrise",
        frozenset({"paris"}),
        MAPPINGS,
    )
    return SourceContext(config, quick_transport(session, "hubrise_location", "pos"), credential)


def reader(session: aiohttp.ClientSession, **settings: Any) -> HubRiseLocationReader:
    return HubRiseLocationReader(context(session, **settings))


def gets(mocked: aioresponses, url: str = URL_INV) -> list[Any]:
    return [
        call
        for (method, u), found in mocked.requests.items()
        if method == "GET"
        for call in found
        if u.path == URL(url).path
    ]


async def test_the_registry_builds_it_and_a_pull_reads_the_whole_inventory_once(
    session: aiohttp.ClientSession,
) -> None:
    built = reader_for(context(session))
    assert isinstance(built, HubRiseLocationReader) and built.kind == "hubrise_location"
    with aioresponses() as m:
        m.get(URL_INV, payload=[{"sku_ref": "COKE", "stock": "0"}, {"option_ref": "PEPSI", "stock": "0"}])
        snapshot = await built.pull(Validators())
    assert isinstance(snapshot, Snapshot) and snapshot.complete
    assert sorted(snapshot.rows, key=lambda r: r.variant_id) == [
        SourceStock("v-coke", "paris", OUT, 0),
        SourceStock("v-eggs", "paris", IN, None),
        SourceStock("v-pepsi", "paris", IN, None),  # an OPTION ref PEPSI is not the sku PEPSI
    ]
    (call,) = gets(m)
    assert call.kwargs["headers"] == {"X-Access-Token": TOKEN}
    assert call.kwargs["params"] is None and call.kwargs["json"] is None
    assert snapshot.observed_at.tzinfo is not None
    assert snapshot.validators == Validators()  # HubRise documents no ETag for inventories


async def test_validators_are_kept_sent_back_and_a_304_is_not_modified(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as m:
        m.get(
            URL_INV, payload=[], headers={"ETag": '"abc"', "Last-Modified": "Mon, 07 Dec 2026 21:00:00 GMT"}
        )
        m.get(URL_INV, status=304)
        first = await reader(session).pull(Validators())
        assert isinstance(first, Snapshot)
        second = await reader(session).pull(first.validators)
    assert first.validators == Validators('"abc"', "Mon, 07 Dec 2026 21:00:00 GMT")
    assert second == NotModified(first.validators)
    assert gets(m)[1].kwargs["headers"] == {
        "X-Access-Token": TOKEN,
        "If-None-Match": '"abc"',
        "If-Modified-Since": "Mon, 07 Dec 2026 21:00:00 GMT",
    }


async def test_a_partial_pull_reads_without_validators_and_names_only_what_was_asked(
    session: aiohttp.ClientSession,
) -> None:
    with aioresponses() as m:
        m.get(URL_INV, payload=[{"sku_ref": "PEPSI", "stock": "2"}], headers={"ETag": '"abc"'})
        snapshot = await reader(session).pull(Validators('"abc"'), only=frozenset({"PEPSI", "UNKNOWN"}))
        nothing = await reader(session).pull(Validators(), only=frozenset({"UNKNOWN"}))
    assert isinstance(snapshot, Snapshot) and not snapshot.complete
    assert list(snapshot.rows) == [SourceStock("v-pepsi", "paris", IN, 2)]
    assert snapshot.validators == Validators()  # a partial read must not stand for the whole
    assert gets(m)[0].kwargs["headers"] == {"X-Access-Token": TOKEN}
    assert isinstance(nothing, Snapshot) and nothing.rows == () and len(gets(m)) == 1


async def test_a_304_to_a_request_without_validators_is_refused(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL_INV, status=304)
        with pytest.raises(SourceError, match="304"):
            await reader(session).pull(Validators())


@pytest.mark.parametrize(
    ("answer", "where"),
    [
        ({"body": ""}, "inventory page 1"),  # an empty 200: not "everything in stock"
        ({"payload": {"error_type": "internal_error"}}, "inventory page 1"),
        ({"payload": [{"sku_ref": "COKE", "stock": "-3"}]}, "inventory[0].stock"),
    ],
)
async def test_a_body_that_is_not_a_whole_inventory_is_a_source_error(
    session: aiohttp.ClientSession, answer: dict[str, Any], where: str
) -> None:
    with aioresponses() as m:
        m.get(URL_INV, **answer)
        with pytest.raises(SourceError) as caught:
            await reader(session).pull(Validators())
    assert caught.value.where == where


async def test_a_paginated_answer_is_followed_to_the_last_page(session: aiohttp.ClientSession) -> None:
    # undocumented for inventories: never read page 1 as the whole inventory (PEPSI is on page 2)
    with aioresponses() as m:
        m.get(
            URL_INV,
            payload=[{"sku_ref": "COKE", "stock": "1"}],
            headers={"X-Cursor-Next": "c2", "ETag": '"x"'},
        )
        m.get(f"{URL_INV}?cursor=c2", payload=[{"sku_ref": "PEPSI", "stock": "0"}])
        snapshot = await reader(session).pull(Validators())
    assert isinstance(snapshot, Snapshot)
    assert {r.variant_id: r.status for r in snapshot.rows} == {"v-coke": IN, "v-pepsi": OUT, "v-eggs": IN}
    assert snapshot.validators == Validators()  # page 1's ETag does not cover page 2


async def test_a_repeated_cursor_is_refused(session: aiohttp.ClientSession) -> None:
    with aioresponses() as m:
        m.get(URL_INV, payload=[], headers={"X-Cursor-Next": "c2"})
        m.get(f"{URL_INV}?cursor=c2", payload=[], headers={"X-Cursor-Next": "c2"})
        with pytest.raises(SourceError, match="repeated"):
            await reader(session).pull(Validators())


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthError), (403, AuthError), (404, PermanentError), (503, TemporaryError)]
)
async def test_failed_reads_raise_and_return_nothing(
    session: aiohttp.ClientSession, status: int, error: type[Exception]
) -> None:
    with aioresponses() as m:
        m.get(URL_INV, status=status, payload={"error_type": "x", "message": f"refused {TOKEN}"}, repeat=True)
        with pytest.raises(error) as caught:
            await reader(session).pull(Validators())
    assert TOKEN not in str(caught.value)


def signed(body: bytes, secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {"X-HubRise-Hmac-SHA256": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def test_callback_signatures_are_checked_with_the_client_secret(session: aiohttp.ClientSession) -> None:
    body = b'{"id": "ev1", "resource_type": "inventory", "event_type": "update"}'
    verify = reader(session).verify_callback
    assert verify(signed(body), body) is True
    assert verify({"x-hubrise-hmac-sha256": signed(body)["X-HubRise-Hmac-SHA256"]}, body) is True
    assert verify(signed(body), body + b" ") is False
    assert verify(signed(body, "another-client-secret"), body) is False
    assert verify({}, body) is False
    assert verify({"X-HubRise-Hmac-SHA256": "not hex"}, body) is False


def test_a_plain_token_credential_pulls_but_refuses_every_callback(session: aiohttp.ClientSession) -> None:
    plain = HubRiseLocationReader(context(session, Secret("pos-hubrise", TOKEN)))
    body = b"{}"
    assert plain.verify_callback(signed(body), body) is False


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"catalog_id": ""}, "catalog_id"),
        ({"location_id": "a/b"}, "location_id"),
        ({"facility_id": "berlin"}, "facility_id"),  # not a facility this source is the truth for
        ({"facility_id": None}, "facility_id"),
        ({"base_url": "http://api.hubrise.example/v1"}, "base_url"),  # the token would travel in clear
        ({"base_url": "https://api.hubrise.com/v1?x=1"}, "base_url"),
        ({"ref_kind": "product"}, "ref_kind"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(
    session: aiohttp.ClientSession, settings: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        reader(session, **settings)
    assert caught.value.key == f"sources.pos.settings.{key}"


@pytest.mark.parametrize(
    "credential",
    [
        None,
        Secret("pos-hubrise", ""),
        Secret("pos-hubrise", json.dumps({"client_secret": CLIENT_SECRET})),
        Secret("pos-hubrise", json.dumps({"access_token": TOKEN, "client_secret": 5})),
        Secret("pos-hubrise", "{not json " + TOKEN),
    ],
)
def test_a_bad_credential_is_refused_without_its_value(
    session: aiohttp.ClientSession, credential: Secret | None
) -> None:
    with pytest.raises(CredentialError) as caught:
        HubRiseLocationReader(context(session, credential))
    assert TOKEN not in str(caught.value) and CLIENT_SECRET not in str(caught.value)
