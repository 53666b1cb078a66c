"""The Nuvemshop fake behaves as the docs say (else the contract suite would prove nothing)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.reconcilers.fakes.nuvemshop_fake import FakeVariant, NuvemshopFake

HEADERS = {"Authentication": "bearer tok", "User-Agent": "tests (dev@example.invalid)"}


@pytest.fixture
async def fake() -> AsyncIterator[NuvemshopFake]:
    store = NuvemshopFake("tok", "secret")
    await store.start()
    yield store
    await store.stop()


async def test_auth_and_user_agent_are_required(fake: NuvemshopFake, session: aiohttp.ClientSession) -> None:
    url = f"{fake.base_url}/123456/products"
    async with session.get(url, headers={"Authorization": "bearer tok", "User-Agent": "x"}) as answer:
        assert answer.status == 401  # the header is Authentication
    async with session.get(url, headers={"Authentication": "bearer tok", "User-Agent": ""}) as answer:
        assert answer.status == 400


async def test_pages_follow_link_and_past_the_last_is_404(
    fake: NuvemshopFake, session: aiohttp.ClientSession
) -> None:
    for product in range(1, 6):
        fake.add(FakeVariant(100 + product, product, 1))
    url = f"{fake.base_url}/123456/products?since_id=1&per_page=2"
    async with session.get(url, headers=HEADERS) as answer:
        assert [p["id"] for p in await answer.json()] == [2, 3]
        assert answer.headers["X-Total-Count"] == "4" and 'rel="next"' in answer.headers["Link"]
    async with session.get(url + "&page=2", headers=HEADERS) as answer:
        assert [p["id"] for p in await answer.json()] == [4, 5] and "next" not in answer.headers["Link"]
    async with session.get(url + "&page=3", headers=HEADERS) as answer:
        assert answer.status == 404


async def test_patch_is_all_or_nothing_and_put_is_refused(
    fake: NuvemshopFake, session: aiohttp.ClientSession
) -> None:
    fake.add(FakeVariant(101, 1, 5))
    fake.add(FakeVariant(102, 1, 5))
    url = f"{fake.base_url}/123456/products/1/variants"
    async with session.patch(
        url, json=[{"id": 101, "stock": 0}, {"id": 999, "stock": 0}], headers=HEADERS
    ) as answer:
        assert answer.status == 422 and (await answer.json())["failed_variant_ids"] == [999]
    assert fake.variant(101).stock == 5  # nothing written
    async with session.patch(url, json=[{"id": 101, "stock": "3"}], headers=HEADERS) as answer:
        assert answer.status == 422
    async with session.patch(url, json=[{"id": 101, "stock": 0}], headers=HEADERS) as answer:
        assert answer.status == 200 and [v["stock"] for v in await answer.json()] == [0, 5]
    async with session.put(url, json=[{"id": 101, "stock": 0}], headers=HEADERS) as answer:
        assert answer.status == 405


async def test_stock_alone_writes_the_first_location(
    fake: NuvemshopFake, session: aiohttp.ClientSession
) -> None:
    fake.add(FakeVariant(101, 1, None, levels={"A": 2, "B": 3}))
    url = f"{fake.base_url}/123456/products/1/variants"
    async with session.patch(url, json=[{"id": 101, "stock": 9}], headers=HEADERS) as answer:
        [variant] = await answer.json()
    assert variant["stock"] == 12 and fake.variant(101).levels == {"A": 9, "B": 3}


async def test_a_full_bucket_answers_429_with_the_documented_headers(
    fake: NuvemshopFake, session: aiohttp.ClientSession
) -> None:
    fake.bucket, fake.leak_per_s = 3, 0.001
    statuses = []
    for _ in range(4):
        async with session.get(f"{fake.base_url}/123456/products", headers=HEADERS) as answer:
            statuses.append(answer.status)
            remaining = answer.headers["X-Rate-Limit-Remaining"]
            assert "Retry-After" not in answer.headers and "X-Rate-Limit-Reset" in answer.headers
    assert statuses == [200, 200, 200, 429] and remaining == "0"
