"""Pagination helpers: cursors (with the repeated-cursor guard), RFC 8288 Link headers, numbered pages."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from reconcilers.pagination import cursor_pages, next_link, numbered_pages
from reconcilers.transport import TemporaryError


async def test_cursor_pages_follow_cursors_until_none() -> None:
    asked: list[str | None] = []
    pages: dict[str | None, tuple[list[int], str | None]] = {
        None: ([1, 2], "c2"),
        "c2": ([3, 4], "c3"),
        "c3": ([5], None),
    }

    async def fetch(cursor: str | None) -> tuple[list[int], str | None]:
        asked.append(cursor)
        return pages[cursor]

    assert [page async for page in cursor_pages(fetch)] == [[1, 2], [3, 4], [5]]
    assert asked == [None, "c2", "c3"]


async def test_cursor_pages_single_empty_page() -> None:
    async def fetch(cursor: str | None) -> tuple[list[int], str | None]:
        return [], None

    assert [page async for page in cursor_pages(fetch)] == [[]]


async def test_a_repeated_cursor_stops_the_loop_without_echoing_it() -> None:
    secret_cursor = "https://shop.test/items?page=2&consumer_key=ck_SECRET"
    answers = iter([([1], secret_cursor), ([2], "https://shop.test/items?page=3"), ([3], secret_cursor)])
    received: list[list[int]] = []

    async def fetch(cursor: str | None) -> tuple[list[int], str | None]:
        return next(answers)

    with pytest.raises(TemporaryError, match="cursor repeated") as caught:
        async for page in cursor_pages(fetch):
            received.append(page)
    assert received == [[1], [2], [3]]  # every page read before the loop was noticed is handed out
    assert "SECRET" not in str(caught.value)


def test_next_link_picks_rel_next_among_several_rels() -> None:
    header = (
        '<https://shop.test/wp-json/wc/v3/products?page=1>; rel="first", '
        '<https://shop.test/wp-json/wc/v3/products?page=2>; rel="prev", '
        '<https://shop.test/wp-json/wc/v3/products?page=4>; rel="next", '
        '<https://shop.test/wp-json/wc/v3/products?page=9>; rel="last"'
    )
    assert next_link({"Link": header}) == "https://shop.test/wp-json/wc/v3/products?page=4"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        # Shopify REST style: page_info cursor in the target, previous first
        (
            '<https://s.myshopify.com/admin/api/2025-01/products.json?limit=50&page_info=abc>; rel="previous", '
            '<https://s.myshopify.com/admin/api/2025-01/products.json?limit=50&page_info=def>; rel="next"',
            "https://s.myshopify.com/admin/api/2025-01/products.json?limit=50&page_info=def",
        ),
        ("<https://x.test/p?page=2>; rel=next", "https://x.test/p?page=2"),  # unquoted token
        ('<https://x.test/p?page=2>; REL="Next"', "https://x.test/p?page=2"),  # case-insensitive
        ('<https://x.test/p?page=2>; rel="next last"', "https://x.test/p?page=2"),  # several types
        ('<https://x.test/p?page=2>;title="a, b; c";rel="next"', "https://x.test/p?page=2"),  # quoted commas
        ('<https://x.test/a>; rel="nextish", <https://x.test/b>; rel="next"', "https://x.test/b"),
        ('<https://x.test/p?page=1>; rel="prev"', None),
        ('<https://x.test/p?page=1>; title="next"', None),  # "next" that is not a rel
        ("", None),
    ],
)
def test_next_link_header_forms(header: str, expected: str | None) -> None:
    assert next_link({"Link": header}) == expected


def test_next_link_header_name_is_case_insensitive() -> None:
    assert next_link({"LINK": '<https://x.test/2>; rel="next"'}) == "https://x.test/2"
    assert next_link(CIMultiDict({"link": '<https://x.test/3>; rel="next"'})) == "https://x.test/3"
    assert next_link({}) is None


async def test_numbered_pages_stop_at_total_pages() -> None:
    asked: list[int] = []

    async def fetch(page: int) -> tuple[list[str], int | None]:
        asked.append(page)
        return [f"item{page}"], 3

    assert [p async for p in numbered_pages(fetch)] == [["item1"], ["item2"], ["item3"]]
    assert asked == [1, 2, 3]  # no request past the announced last page


async def test_numbered_pages_without_total_stop_on_an_empty_page() -> None:
    asked: list[int] = []

    async def fetch(page: int) -> tuple[list[int], int | None]:
        asked.append(page)
        return ([page] if page < 3 else []), None

    assert [p async for p in numbered_pages(fetch, first=0)] == [[0], [1], [2]]
    assert asked == [0, 1, 2, 3]


async def test_numbered_pages_empty_first_page_yields_nothing() -> None:
    async def fetch(page: int) -> tuple[list[int], int | None]:
        return [], 0

    assert [p async for p in numbered_pages(fetch)] == []
