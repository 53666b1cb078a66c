"""The HTTP feed source on the wire (aioresponses): validators sent back and a 304 read as unchanged,
bearer and HMAC auth, the size limit, and the transport's raw-bytes option it relies on."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from daemon.credentials import Secret
from reconcilers.transport import TooLarge
from sources.http_feed import HttpFeedReader
from sources.interface import NotModified, Snapshot, SourceConfig, SourceContext, SourceError, Validators
from tests.reconcilers.wire import quick_transport

FEED = "https://feed.example.test/stock.json"
BODY = b'[{"variant_id": "tee", "facility_id": "us1", "status": "out_of_stock", "quantity": null}]'


def reader(session: aiohttp.ClientSession, secret: str | None = None, **settings: Any) -> HttpFeedReader:
    source = SourceConfig(
        "feed1", "http_feed", {"url": FEED, **settings}, "feed-token" if secret else None, frozenset({"us1"})
    )
    transport = quick_transport(session, "source:http_feed", "source:feed1")
    return HttpFeedReader(SourceContext(source, transport, Secret("feed-token", secret) if secret else None))


def sent_headers(mocked: aioresponses, index: int = 0) -> dict[str, str]:
    return dict(mocked.requests[("GET", URL(FEED))][index].kwargs["headers"])


async def test_validators_are_kept_and_sent_back_and_a_304_is_not_modified(
    session: aiohttp.ClientSession,
) -> None:
    feed = reader(session)
    with aioresponses() as mocked:
        mocked.get(
            FEED, body=BODY, headers={"ETag": '"v1"', "Last-Modified": "Mon, 07 Dec 2026 10:00:00 GMT"}
        )
        mocked.get(FEED, status=304, headers={"ETag": '"v1"'})
        first = await feed.pull(Validators())
        assert isinstance(first, Snapshot)
        second = await feed.pull(first.validators)
        headers = sent_headers(mocked, 1)
    assert first.validators == Validators('"v1"', "Mon, 07 Dec 2026 10:00:00 GMT")
    assert first.observed_at.isoformat() == "2026-12-07T10:00:00+00:00"  # the feed's own time
    assert [r.variant_id for r in first.rows] == ["tee"]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Mon, 07 Dec 2026 10:00:00 GMT"
    assert second == NotModified(first.validators)


async def test_bearer_credential_is_sent(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(FEED, body=BODY)
        await reader(session, "s3cret-token-value").pull(Validators())
        assert sent_headers(mocked)["Authorization"] == "Bearer s3cret-token-value"


async def test_hmac_signed_feed_is_verified_and_a_bad_signature_applies_nothing(
    session: aiohttp.ClientSession,
) -> None:
    secret = "shared-feed-secret"
    good = hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    feed = reader(session, secret, auth="hmac", signature_header="X-Feed-Signature")
    with aioresponses() as mocked:
        mocked.get(FEED, body=BODY, headers={"X-Feed-Signature": f"sha256={good}"})
        mocked.get(FEED, body=BODY, headers={"X-Feed-Signature": "0" * 64})
        assert isinstance(await feed.pull(Validators()), Snapshot)
        assert "Authorization" not in sent_headers(mocked)
        with pytest.raises(SourceError, match="X-Feed-Signature: the signature does not verify") as caught:
            await feed.pull(Validators())
    assert secret not in str(caught.value)


async def test_a_feed_larger_than_max_bytes_is_refused(session: aiohttp.ClientSession) -> None:
    with aioresponses() as mocked:
        mocked.get(FEED, body=BODY)
        with pytest.raises(TooLarge, match="larger than 40 bytes"):
            await reader(session, max_bytes=40).pull(Validators())


async def test_csv_feed_is_read_as_bytes_not_json(session: aiohttp.ClientSession) -> None:
    csv = b"variant_id,facility_id,status,quantity\ntee,us1,in_stock,\n"
    with aioresponses() as mocked:
        mocked.get(FEED, body=csv)
        snapshot = await reader(session, format="csv").pull(Validators())
        assert sent_headers(mocked)["Accept"] == "text/csv"
    assert isinstance(snapshot, Snapshot) and snapshot.rows[0].where == "feed:2"


async def test_raw_option_keeps_bytes_and_a_304_is_an_answer(session: aiohttp.ClientSession) -> None:
    transport = quick_transport(session, "test", "s1")
    with aioresponses() as mocked:
        mocked.get(FEED, body=b"not json at all")
        mocked.get(FEED, status=304)
        raw = await transport.request("GET", FEED, raw=True)
        unchanged = await transport.request("GET", FEED, raw=True)
    assert raw.body == b"not json at all"
    assert unchanged.status == 304


@pytest.mark.parametrize(
    ("settings", "where"),
    [
        ({"url": "ftp://x"}, "settings: url"),
        ({"format": "xml"}, "settings: format"),
        ({"auth": "hmac"}, "settings: signature_header"),
    ],
)
def test_bad_settings_are_named(session: aiohttp.ClientSession, settings: dict[str, Any], where: str) -> None:
    with pytest.raises(SourceError) as caught:
        reader(session, "x-secret-value", **settings)
    assert caught.value.where == where
