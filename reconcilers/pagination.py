"""Pagination helpers used by observe(): cursors, RFC 8288 Link headers, numbered pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TypeVar

from reconcilers.transport import TemporaryError

T = TypeVar("T")
_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


async def cursor_pages(
    fetch: Callable[[str | None], Awaitable[tuple[list[T], str | None]]],
) -> AsyncIterator[list[T]]:
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        items, cursor = await fetch(cursor)
        yield items
        if cursor is None:
            return
        if cursor in seen:
            raise TemporaryError(f"pagination cursor repeated ({cursor[:40]}); stopping to avoid a loop")
        seen.add(cursor)


def next_link(headers: Mapping[str, str]) -> str | None:
    """The rel="next" target of a Link header, if any."""
    header = headers.get("Link") or headers.get("link")
    if not header:
        return None
    for match in _LINK.finditer(header):
        params = match.group(2)
        rels = re.findall(r'rel\s*=\s*"?([^";]+)"?', params)
        if any("next" in rel.split() for rel in rels):
            return match.group(1)
    return None


async def numbered_pages(
    fetch: Callable[[int], Awaitable[tuple[list[T], int | None]]], first: int = 1
) -> AsyncIterator[list[T]]:
    page = first
    while True:
        items, total = await fetch(page)
        if not items:
            return
        yield items
        if total is not None and page >= total:
            return
        page += 1
