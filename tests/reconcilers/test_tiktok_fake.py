"""The TikTok Shop fake behaves like the Partner API docs: signing, envelope codes, caps, per-SKU errors,
throttling and token refresh (requests built by hand here, not by the reconciler)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.reconcilers.fakes.tiktok_fake import SEARCH, FakeSku, TiktokFake

KEY, SECRET, TOKEN = "fake-app-key", "fake-app-secret", "TTP_fake"
THROTTLED = {
    "code": 36009002,
    "message": "Too many requests. You've made too many requests in a short period of time.",
    "request_id": "202612070749000101890810281E8C70B7",
    "data": None,
}
PRODUCT, SKU, OTHER, WH, WH2 = (
    "1729592969712207008",
    "1729388324987897824",
    "1729388324987897825",
    "111",
    "222",
)


@pytest.fixture
async def fake() -> AsyncIterator[TiktokFake]:
    server = TiktokFake(KEY, SECRET, TOKEN)
    await server.start()
    server.add(FakeSku(SKU, PRODUCT, {WH: 5}))
    server.add(FakeSku(OTHER, PRODUCT, {WH: 1, WH2: 2}))
    yield server
    await server.stop()


def signed_query(path: str, body: bytes, **override: str) -> dict[str, str]:
    query = {"app_key": KEY, "timestamp": str(int(time.time())), "shop_cipher": "ROW_fakeShopCipher"}
    query.update(override)
    pairs = "".join(f"{k}{query[k]}" for k in sorted(query))
    key = SECRET.encode()
    query["sign"] = hmac.new(
        key, key + path.encode() + pairs.encode() + body + key, hashlib.sha256
    ).hexdigest()
    return query


async def post(
    fake: TiktokFake, path: str, payload: Any, *, token: str | None = None, **override: str
) -> tuple[int, dict[str, Any]]:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "x-tts-access-token": token or fake.token}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            fake.base_url + path, params=signed_query(path, body, **override), data=body, headers=headers
        ) as r,
    ):
        return r.status, await r.json()


def update_path(product: str = PRODUCT) -> str:
    return f"/product/202309/products/{product}/inventory/update"


async def test_search_by_sku_ids_answers_the_documented_shape(fake: TiktokFake) -> None:
    status, answer = await post(fake, SEARCH, {"sku_ids": [SKU, "1"]})
    assert status == 200 and answer["code"] == 0 and "request_id" in answer
    [product] = answer["data"]["inventory"]
    assert product["product_id"] == PRODUCT
    [sku] = product["skus"]
    assert sku["id"] == SKU and sku["warehouse_inventory"][0] == {
        "warehouse_id": WH,
        "available_quantity": 5,
        "committed_quantity": 0,
    }


async def test_search_caps_and_id_types(fake: TiktokFake) -> None:
    assert (await post(fake, SEARCH, {"sku_ids": [str(n) for n in range(601)]}))[1]["code"] == 12019015
    assert (await post(fake, SEARCH, {"product_ids": [str(n) for n in range(101)]}))[1]["code"] == 12019120
    assert (await post(fake, SEARCH, {"sku_ids": [int(SKU)]}))[1]["code"] != 0  # ids are strings
    assert (await post(fake, SEARCH, {"product_ids": [PRODUCT]}))[1]["data"]["inventory"][0]["skus"][1][
        "id"
    ] == OTHER


async def test_requests_must_be_signed_timely_and_carry_the_token(fake: TiktokFake) -> None:
    good = signed_query(SEARCH, b"{}")
    status, answer = await post(fake, SEARCH, {"sku_ids": [SKU]}, sign=good["sign"])  # sign of another body
    assert (status, answer["code"]) == (401, 106001)
    status, answer = await post(fake, SEARCH, {"sku_ids": [SKU]}, timestamp=str(int(time.time()) - 400))
    assert (status, answer["code"]) == (400, 36009004)
    status, answer = await post(fake, SEARCH, {"sku_ids": [SKU]}, token="TTP_wrong")
    assert (status, answer["code"]) == (401, 36009004)
    status, answer = await post(fake, SEARCH, {"sku_ids": [SKU]}, app_key="other")
    assert answer["code"] == 36009004
    fake.expired = True
    assert (await post(fake, SEARCH, {"sku_ids": [SKU]}))[1]["code"] == 105002


async def test_update_writes_one_product_and_reports_refused_skus(fake: TiktokFake) -> None:
    payload = {
        "skus": [
            {"id": SKU, "inventory": [{"quantity": 9}]},  # one warehouse: warehouse_id optional
            {"id": OTHER, "inventory": [{"warehouse_id": WH, "quantity": 3}]},  # omits WH2
        ]
    }
    status, answer = await post(fake, update_path(), payload)
    assert status == 200 and answer["code"] == 0
    [error] = answer["data"]["errors"]
    assert error["code"] == 12019028 and error["detail"]["sku_id"] == OTHER
    assert fake.skus[SKU].stock == {WH: 9} and fake.skus[OTHER].stock == {WH: 1, WH2: 2}


async def test_update_limits(fake: TiktokFake) -> None:
    assert (await post(fake, update_path(), {"skus": []}))[1]["code"] == 12052902
    many = {"skus": [{"id": str(n), "inventory": [{"quantity": 1}]} for n in range(101)]}
    assert (await post(fake, update_path(), many))[1]["code"] == 12052050
    twice = {"skus": [{"id": SKU, "inventory": [{"quantity": 1}]}] * 2}
    assert (await post(fake, update_path(), twice))[1]["code"] == 12052553
    assert (await post(fake, update_path("1"), {"skus": [{"id": SKU, "inventory": [{"quantity": 1}]}]}))[1][
        "code"
    ] == 12052032
    over = {"skus": [{"id": SKU, "inventory": [{"quantity": 100_000}]}]}
    assert (await post(fake, update_path(), over))[1]["data"]["errors"][0]["code"] == 12052055
    fake.product_status[PRODUCT] = "SELLER_DEACTIVATED"
    assert (await post(fake, update_path(), {"skus": [{"id": SKU, "inventory": [{"quantity": 1}]}]}))[1][
        "code"
    ] == 12052901


async def test_throttling_and_server_errors(fake: TiktokFake) -> None:
    fake.throttle_next, fake.throttle_in_body_next = 1, 1
    assert await post(fake, SEARCH, {"sku_ids": [SKU]}) == (429, THROTTLED)
    status, answer = await post(fake, SEARCH, {"sku_ids": [SKU]})
    assert (status, answer["code"]) == (200, 36009002)
    assert (await post(fake, SEARCH, {"sku_ids": [SKU]}))[1]["code"] == 0


async def test_token_refresh_rotates_both_tokens(fake: TiktokFake) -> None:
    query = {
        "app_key": KEY,
        "app_secret": SECRET,
        "refresh_token": fake.refresh,
        "grant_type": "refresh_token",
    }
    async with aiohttp.ClientSession() as session:
        async with session.get(fake.base_url + "/api/v2/token/refresh", params=query) as r:
            answer = await r.json()
        assert answer["code"] == 0 and answer["data"]["access_token"] == fake.token != TOKEN
        async with session.get(fake.base_url + "/api/v2/token/refresh", params=query) as r:
            assert (await r.json())["code"] != 0  # the old refresh token was rotated away
    assert (await post(fake, SEARCH, {"sku_ids": [SKU]}, token=TOKEN))[1]["code"] == 36009004


async def test_webhooks_are_signed_with_app_key_and_body(fake: TiktokFake) -> None:
    headers, body = fake.webhook(PRODUCT, SKU)
    expected = hmac.new(SECRET.encode(), KEY.encode() + body, hashlib.sha256).hexdigest()
    assert headers["Authorization"] == expected
    event = json.loads(body)
    assert (
        event["type"] == 27
        and event["data"]["product_id"] == PRODUCT
        and isinstance(event["tts_notification_id"], str)
    )
