"""The Big Cartel fake behaves as the docs say (else the contract suite would prove nothing)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.reconcilers.fakes.bigcartel_fake import BigCartelFake, FakeOption

MEDIA = "application/vnd.api+json"
HEADERS = {"Authorization": "Bearer tok", "Accept": MEDIA, "User-Agent": "tests (dev@example.invalid)"}


@pytest.fixture
async def fake() -> AsyncIterator[BigCartelFake]:
    store = BigCartelFake("tok", "secret", login="myshop", password="pw")
    await store.start()
    yield store
    await store.stop()


def products_url(fake: BigCartelFake) -> str:
    return f"{fake.base_url}/accounts/{fake.account_id}/products"


def patch(product_id: str, options: list[dict[str, Any]], **attributes: Any) -> bytes:
    data: dict[str, Any] = {
        "type": "products",
        "id": product_id,
        "relationships": {"options": {"data": options}},
    }
    if attributes:
        data["attributes"] = attributes
    return json.dumps({"data": data}).encode()


async def test_auth_media_type_and_user_agent_are_required(
    fake: BigCartelFake, session: aiohttp.ClientSession
) -> None:
    url = products_url(fake)
    async with session.get(url, headers={**HEADERS, "Authorization": "Bearer nope"}) as answer:
        assert answer.status == 401 and (await answer.json(content_type=None))["errors"][0]["status"] == "401"
    basic = "Basic " + base64.b64encode(b"myshop:pw").decode()
    async with session.get(url, headers={**HEADERS, "Authorization": basic}) as answer:
        assert answer.status == 200  # HTTP Basic with the shop subdomain and password
    async with session.get(url, headers={**HEADERS, "Accept": "application/json"}) as answer:
        assert answer.status == 406
    async with session.get(url, headers={**HEADERS, "User-Agent": ""}) as answer:
        assert answer.status == 400


async def test_pages_use_limit_and_offset_with_options_included(
    fake: BigCartelFake, session: aiohttp.ClientSession
) -> None:
    for product in range(1, 26):
        fake.add(FakeOption(100 + product, product, product))
    async with session.get(products_url(fake), headers=HEADERS) as answer:
        first = await answer.json(content_type=None)
    assert len(first["data"]) == 20 and first["meta"]["count"] == 25  # 20 by default
    params = {"page[limit]": "10", "page[offset]": "20"}
    async with session.get(products_url(fake), headers=HEADERS, params=params) as answer:
        rest = await answer.json(content_type=None)
    assert [p["id"] for p in rest["data"]] == ["21", "22", "23", "24", "25"]
    assert rest["data"][0]["relationships"]["options"]["data"] == [{"type": "product_options", "id": "121"}]
    assert rest["included"][0]["attributes"]["quantity"] == 21
    async with session.get(products_url(fake) + "/99", headers=HEADERS) as answer:
        assert answer.status == 404


async def test_patch_replaces_the_option_list_and_checks_the_body(
    fake: BigCartelFake, session: aiohttp.ClientSession
) -> None:
    fake.add(FakeOption(101, 1, 5))
    fake.add(FakeOption(102, 1, 5))
    url, headers = products_url(fake) + "/1", {**HEADERS, "Content-Type": MEDIA}
    one = [{"type": "product_options", "id": "101", "attributes": {"quantity": 2}}]
    async with session.patch(
        url, data=patch("1", one), headers=HEADERS | {"Content-Type": "application/json"}
    ) as a:
        assert a.status == 400  # the JSON:API media type is required
    async with session.patch(
        url, data=patch("1", [{**one[0], "attributes": {"quantity": -1}}]), headers=headers
    ) as a:
        assert a.status == 400
    both: list[dict[str, Any]] = [*one, {"type": "product_options", "id": "102"}]
    async with session.patch(url, data=patch("1", both, status="sold_out"), headers=headers) as answer:
        assert answer.status == 200
    assert (fake.option(101).quantity, fake.option(102).quantity, fake.products[1].status) == (
        2,
        5,
        "sold_out",
    )
    async with session.patch(url, data=patch("1", one), headers=headers) as answer:
        assert answer.status == 200
    assert list(fake.products[1].options) == [101]  # JSON:API to-many replacement: 102 was dropped
    fake.refused_options.add(101)
    async with session.patch(url, data=patch("1", one), headers=headers) as answer:
        assert answer.status == 402  # valid parameters, the request failed


async def test_throttle_server_errors_and_signed_echoes(
    fake: BigCartelFake, session: aiohttp.ClientSession
) -> None:
    fake.add(FakeOption(101, 1, 5))
    fake.throttle_next, fake.fail_next = 1, [503]
    statuses = []
    for _ in range(3):
        async with session.get(products_url(fake), headers=HEADERS) as answer:
            statuses.append((answer.status, answer.headers.get("Retry-After")))
    assert statuses == [(503, None), (429, "1"), (200, None)]
    one = [{"type": "product_options", "id": "101", "attributes": {"quantity": 0}}]
    async with session.patch(
        products_url(fake) + "/1", data=patch("1", one), headers={**HEADERS, "Content-Type": MEDIA}
    ) as answer:
        assert answer.status == 200
    [echo] = fake.webhooks  # our own write is announced too
    event = json.loads(echo)
    assert (event["account_id"], event["type"], event["payload"]["id"]) == ("4242", "product.updated", "1")
    headers, body = fake.webhook(1)
    assert headers["X-Webhook-Signature"] == hmac.new(b"secret", body, hashlib.sha256).hexdigest()
