"""The Weebly fake behaves like the documentation says Weebly does: the token header and scopes,
list pagination (page, limit ≤ 200, X-Resultset-* and Link headers), PATCH as a partial update and PUT
as a replacement, the 429 throttle, untracked SKUs and the webhook hmac."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from daemon.credentials import Secret
from daemon.model import Availability, Change, StoreConfig, SyncedVariant
from reconcilers.interface import ReconcilerContext
from reconcilers.ratelimit import LeakyBucketPacer
from reconcilers.transport import Transport
from reconcilers.weebly import WeeblyReconciler
from tests.reconcilers.fakes.weebly_fake import READ, WRITE, WeeblyFake

TOKEN, SECRET, SITE = "fake-weebly-token", "fake-app-secret", "987654321"
AUTH = {"X-Weebly-Access-Token": TOKEN, "Accept": "application/vnd.weebly.v1+json"}


@pytest.fixture
async def fake() -> AsyncIterator[WeeblyFake]:
    server = WeeblyFake(TOKEN, SECRET, SITE)
    await server.start()
    yield server
    await server.stop()


async def call(
    session: aiohttp.ClientSession, fake: WeeblyFake, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, dict[str, str]]:
    kwargs.setdefault("headers", AUTH)
    url = f"{fake.base_url}/user/sites/{SITE}/store/products{path}"
    async with session.request(method, url, **kwargs) as answer:
        return answer.status, await answer.json(), dict(answer.headers)


async def test_the_token_header_the_site_and_the_scopes_are_checked(
    session: aiohttp.ClientSession, fake: WeeblyFake
) -> None:
    fake.seed("32:1", 5)
    assert (await call(session, fake, "GET", "/32/skus", headers={}))[0] == 401
    assert (await call(session, fake, "GET", "/32/skus", headers={"X-Weebly-Access-Token": "no"}))[0] == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}  # not how Weebly takes the token
    assert (await call(session, fake, "GET", "/32/skus", headers=bearer))[0] == 401
    async with session.get(f"{fake.base_url}/user/sites/111/store/products/32/skus", headers=AUTH) as answer:
        assert answer.status == 404
    fake.scopes = {READ}
    status, body, _ = await call(session, fake, "PATCH", "/32/skus/1", json={"inventory": 1})
    assert status == 403 and "write:store-catalog" in body["error"]["message"]
    assert fake.sku("32:1").inventory == 5  # type: ignore[union-attr]
    fake.scopes = {WRITE}
    assert (await call(session, fake, "GET", "/32/skus"))[0] == 403


async def test_sku_lists_page_with_limit_and_resultset_headers(
    session: aiohttp.ClientSession, fake: WeeblyFake
) -> None:
    for n in range(1, 31):
        fake.seed(f"32:{n}", n)
    status, page, headers = await call(session, fake, "GET", "/32/skus")
    assert status == 200 and len(page) == 25  # the documented default
    assert (headers["X-Resultset-Total"], headers["X-Resultset-Page"], headers["X-Resultset-Limit"]) == (
        "30",
        "1",
        "25",
    )
    assert 'rel="next"' in headers["Link"] and "page=2" in headers["Link"]
    status, page, headers = await call(session, fake, "GET", "/32/skus", params={"page": "2", "limit": "25"})
    assert [s["product_sku_id"] for s in page] == [str(n) for n in range(26, 31)]
    assert 'rel="next"' not in headers["Link"] and 'rel="prev"' in headers["Link"]
    status, page, headers = await call(session, fake, "GET", "/32/skus", params={"limit": "200"})
    assert len(page) == 30 and "Link" not in headers
    assert page[0]["inventory"] == 1 and page[0]["product_id"] == "32"  # the list view carries inventory
    for bad in ({"limit": "201"}, {"limit": "0"}, {"page": "0"}, {"limit": "x"}):
        assert (await call(session, fake, "GET", "/32/skus", params=bad))[0] == 400


async def test_products_list_and_detail_views(session: aiohttp.ClientSession, fake: WeeblyFake) -> None:
    fake.seed("32:1", 5)
    fake.seed("32:2", None)
    status, products, _ = await call(session, fake, "GET", "")
    assert status == 200 and products[0]["product_id"] == "32" and "skus" not in products[0]
    status, detail, _ = await call(session, fake, "GET", "/32")
    assert [s["inventory"] for s in detail["skus"]] == [5, None]  # inlined in the detail view
    assert (await call(session, fake, "GET", "/99"))[0] == 404
    assert (await call(session, fake, "GET", "/32/skus/9"))[0] == 404


async def test_patch_is_a_partial_update_and_answers_the_sku(
    session: aiohttp.ClientSession, fake: WeeblyFake
) -> None:
    sku = fake.seed("32:2", 5)
    sku.weight = 3.0
    status, body, _ = await call(session, fake, "PATCH", "/32/skus/2", json={"inventory": 9})
    assert status == 200 and body["inventory"] == 9 and body["weight"] == 3.0 and body["price"] == 10.0
    assert (await call(session, fake, "PATCH", "/32/skus/2", json={"inventory": None}))[1][
        "inventory"
    ] is None
    for bad in ({"inventory": "9"}, {"inventory": True}, {"inventory": 1.5}, {"product_type": "digital"}, {}):
        assert (await call(session, fake, "PATCH", "/32/skus/2", json=bad))[0] == 400
    assert (await call(session, fake, "PATCH", "/32/skus/7", json={"inventory": 1}))[0] == 404
    assert (await call(session, fake, "PUT", "/32/skus/2", json={"inventory": 1}))[0] == 405
    fake.refused.add("32:2")
    assert (await call(session, fake, "PATCH", "/32/skus/2", json={"inventory": 1}))[0] == 400


async def test_put_replaces_and_resets_what_it_does_not_name(
    session: aiohttp.ClientSession, fake: WeeblyFake
) -> None:
    fake.seed("32:1", 5)
    status, body, _ = await call(
        session, fake, "PUT", "/32", json={"name": "T", "skus": [{"product_sku_id": "1", "price": 2}]}
    )
    assert status == 200 and body["skus"][0]["inventory"] is None  # reset to its default: untracked


async def test_throttle_and_server_errors(session: aiohttp.ClientSession, fake: WeeblyFake) -> None:
    fake.seed("32:1", 5)
    fake.throttle_next, fake.retry_after = 1, "3"
    status, body, headers = await call(session, fake, "GET", "/32/skus")
    assert status == 429 and headers["Retry-After"] == "3" and body["error"]["code"] == 429
    assert (await call(session, fake, "GET", "/32/skus"))[0] == 200
    fake.fail_next = [503]
    async with session.get(f"{fake.base_url}/user/sites/{SITE}/store/products", headers=AUTH) as answer:
        assert answer.status == 503
    assert fake.stats.throttled_429 == 1


async def test_events_carry_the_documented_hmac(fake: WeeblyFake) -> None:
    headers, body = fake.event("32", timestamp=1440016771)
    event = json.loads(body)
    assert list(event) == ["client_id", "client_version", "event", "timestamp", "data", "hmac"]
    signed = json.dumps({k: event[k] for k in list(event)[:5]}, separators=(",", ":"))
    assert event["hmac"] == hmac.new(SECRET.encode(), signed.encode(), hashlib.sha256).hexdigest()
    assert event["data"] == {"user_id": "123456", "site_id": SITE, "product_id": "32"}
    assert headers["X-Weebly-Attempt"] == "1"


async def test_a_redirect_is_followed_by_the_identical_call(
    session: aiohttp.ClientSession, fake: WeeblyFake
) -> None:
    fake.seed("32:1", 5)
    store = StoreConfig("w1", "weebly", "europe", "c", settings={"site_id": SITE, "base_url": fake.base_url})
    credential = Secret("c", json.dumps({"access_token": TOKEN, "client_secret": SECRET}))
    transport = Transport(session, platform="weebly", store_id="w1", pacer=LeakyBucketPacer(1000, 1000))
    weebly = WeeblyReconciler(ReconcilerContext(store, transport, credential))
    fake.redirect_next = 2
    [seen] = await weebly.observe([SyncedVariant("w1", "32:1", "a")])
    result = await weebly.apply([Change("32:1", Availability(True, 8))])
    assert seen.quantity == 5 and [o.quantity for o in result.confirmed] == [8]
    assert fake.sku("32:1").inventory == 8  # type: ignore[union-attr]
    assert [p.split(" ")[0] for p in fake.stats.paths] == ["GET", "GET", "PATCH", "PATCH"]
    assert fake.stats.paths[1].split(" ")[1].startswith("/moved/")
