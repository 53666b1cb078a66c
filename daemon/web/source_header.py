"""The drift page's header about upstream sources: each source's last successful pull (age and time),
its rows and, in plain words, whether it is fresh or stale. Pure rendering; the rows come from
daemon.db.sources.source_freshness."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from daemon.web.pages import when


def age(then: datetime | None, now: datetime) -> str:
    """How long ago, in the largest unit that reads naturally: 'never', '42 s', '17 min', '5 h', '3 days'."""
    if then is None:
        return "never"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size * (2 if unit == "days" else 1):
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _state(row: Mapping[str, Any], stale_after: int) -> str:
    hours = row["pull_interval_s"] * stale_after / 3600
    if row["stale"]:
        text = f"STALE: no successful pull for {stale_after} intervals ({hours:g} h); stores follow old stock"
        if row["last_error"]:
            text += f". Last error: {row['last_error']}"
        return f"<b>{escape(text)}</b>"
    if row["last_error"]:
        return escape(f"fresh, but the last try failed: {row['last_error']}")
    return "fresh"


def sources_header(rows: Sequence[Mapping[str, Any]], stale_after: int, now: datetime) -> str:
    """A short table of the enabled sources; nothing when none is configured."""
    if not rows:
        return ""
    lines = "".join(
        "<tr>"
        f"<td>{escape(r['source_id'])}</td><td>{escape(r['kind'])}</td>"
        f"<td>{escape(age(r['last_success_at'], now))}"
        f"{' (' + escape(when(r['last_success_at'])) + ')' if r['last_success_at'] else ''}</td>"
        f"<td>{'' if r['last_rows'] is None else r['last_rows']}</td>"
        f"<td>{_state(r, stale_after)}</td>"
        "</tr>"
        for r in rows
    )
    head = "".join(f"<th>{h}</th>" for h in ("source", "kind", "last successful pull", "rows", "state"))
    return f"<h2>Upstream sources</h2><table><tr>{head}</tr>{lines}</table>"
