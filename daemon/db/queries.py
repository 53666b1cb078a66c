"""Named queries: sql/queries/*.sql loaded once into name → text (procrastinate's `-- name --` blocks).

Python calls queries by name; a missing name fails fast at the first lookup, naming it.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

_HEADER = re.compile(r"^--\s*([a-z_][a-z0-9_]*)\s*--\s*$", re.M)


def sql_root() -> Traversable:
    return files("sql")


def parse_queries(text: str, origin: str) -> dict[str, str]:
    """Split one file into named blocks; text before the first header is a comment and ignored."""
    parts = _HEADER.split(text)
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise ValueError(f"{origin}: query {name!r} defined twice")
        found[name] = body.strip()
    return found


@cache
def _all_queries() -> dict[str, str]:
    queries: dict[str, str] = {}
    for entry in sorted(sql_root().joinpath("queries").iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        for name, body in parse_queries(entry.read_text(encoding="utf-8"), entry.name).items():
            if name in queries:
                raise ValueError(f"{entry.name}: query {name!r} already defined in another file")
            queries[name] = body
    return queries


def query(name: str) -> str:
    """The text of a named query. Text comes only from files we ship, never from input."""
    try:
        return _all_queries()[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in sql/queries/*.sql") from None
