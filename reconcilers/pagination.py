"""Pagination helpers used by observe(): cursors, RFC 8288 Link headers, numbered pages.

They only walk pages a reconciler fetches; they never build requests. A platform that keeps answering
the same cursor would loop forever, so a repeated cursor is a TemporaryError.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TypeVar

from reconcilers.transport import TemporaryError

T = TypeVar("T")
# one link-value: <target> followed by ;-parameters whose values may be quoted (and hold commas)
_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,=\s]+\s*(?:=\s*(?:"[^"]*"|[^;,]*))?)*)')
_REL = re.compile(r'(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))', re.IGNORECASE)


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
            # the cursor itself stays out: some are next-page URLs that carry a key in their query
            raise TemporaryError(f"pagination cursor repeated after {len(seen) + 1} pages; stopping a loop")
        seen.add(cursor)


def next_link(headers: Mapping[str, str]) -> str | None:
    """The rel="next" target of a Link header, if any."""
    header = headers.get("Link") or next((v for k, v in headers.items() if k.lower() == "link"), None)
    if not header:
        return None
    for match in _LINK.finditer(header):
        for quoted, bare in _REL.findall(match.group(2)):
            if "next" in (quoted or bare).lower().split():  # rel may list several types
                return match.group(1).strip()
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
