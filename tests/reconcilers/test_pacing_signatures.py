"""Pacers, HMAC helpers, batching and pagination helpers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac

import pytest

from daemon.model import ApplyResult, ItemFailure, Observed
from reconcilers.batching import chunked, merge_results
from reconcilers.capabilities import PacingModel, RateBudget
from reconcilers.pagination import cursor_pages, next_link, numbered_pages
from reconcilers.ratelimit import CostPointsPacer, LeakyBucketPacer, PacerRegistry
from reconcilers.signatures import check_stocksync, sign_stocksync, verify_base64, verify_hex
from reconcilers.transport import TemporaryError


async def test_leaky_bucket_lets_the_burst_through_then_paces() -> None:
    pacer = LeakyBucketPacer(50, 5)
    await asyncio.gather(*(pacer.acquire() for _ in range(5)))
    assert pacer.acquired == 5


def test_registry_keeps_one_pacer_per_store() -> None:
    registry = PacerRegistry()
    budget = RateBudget(10, 5)
    assert registry.get("a", budget) is registry.get("a", budget)
    assert registry.get("a", budget) is not registry.get("b", budget)
    assert registry.get("a", RateBudget(5, 5)) is not registry.get("a", budget)  # settings changed
    assert isinstance(registry.get("c", RateBudget(1, 1, PacingModel.COST_POINTS, 1000, 50)), CostPointsPacer)


def test_hmac_verifiers() -> None:
    body = b'{"id": 1}'
    digest = hmac.new(b"s3cret", body, hashlib.sha256).digest()
    assert verify_base64("s3cret", body, base64.b64encode(digest).decode())
    assert verify_hex("s3cret", body, digest.hex().upper())
    assert not verify_base64("other", body, base64.b64encode(digest).decode())
    assert not verify_base64("s3cret", body + b" ", base64.b64encode(digest).decode())
    assert not verify_hex("s3cret", body, None) and not verify_base64("s3cret", body, "%%%")


def test_stocksync_signature_scheme() -> None:
    body, now = b'{"events": []}', 1_800_000_000
    signature = sign_stocksync("k", now, body)
    expected = hmac.new(b"k", f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert check_stocksync("k", str(now), signature, body, now=now + 299) is None
    assert check_stocksync("k", str(now), signature, body, now=now + 301) == "stale timestamp"
    assert check_stocksync("k", None, signature, body, now=now) == "missing timestamp"
    assert check_stocksync("k", "abc", signature, body, now=now) == "bad timestamp"
    assert check_stocksync("k", str(now), None, body, now=now) == "missing signature"
    assert check_stocksync("k", str(now), signature, body + b"x", now=now) == "bad signature"
    assert check_stocksync("k", str(now), expected, body, now=now) == "bad signature"  # no sha256= prefix


def test_chunked_and_merge() -> None:
    assert [list(c) for c in chunked([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    with pytest.raises(ValueError):
        list(chunked([1], 0))
    merged = merge_results(
        [ApplyResult((Observed("a", True),), ()), ApplyResult((), (ItemFailure("b", "x"),))]
    )
    assert [o.external_id for o in merged.confirmed] == ["a"] and merged.failed[0].external_id == "b"


def test_next_link_finds_rel_next_among_others() -> None:
    header = '<https://x.test/p?page=1>; rel="prev", <https://x.test/p?page=3>; rel="next"'
    assert next_link({"Link": header}) == "https://x.test/p?page=3"
    assert next_link({"Link": '<https://x.test/p?page=1>; rel="prev"'}) is None
    assert next_link({}) is None


async def test_cursor_and_numbered_pages() -> None:
    pages = {None: ([1, 2], "c2"), "c2": ([3], None)}

    async def fetch(cursor: str | None) -> tuple[list[int], str | None]:
        return pages[cursor]

    assert [p async for p in cursor_pages(fetch)] == [[1, 2], [3]]

    async def looping(cursor: str | None) -> tuple[list[int], str | None]:
        return [1], "same"

    with pytest.raises(TemporaryError, match="repeated"):
        _ = [p async for p in cursor_pages(looping)]

    async def numbered(page: int) -> tuple[list[int], int | None]:
        return ([page] if page <= 3 else []), 3

    assert [p async for p in numbered_pages(numbered)] == [[1], [2], [3]]
