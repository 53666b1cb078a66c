"""The drift page's sources header in plain words: age of the last successful pull, rows, stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from daemon.web.source_header import age, sources_header

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def row(**values: object) -> dict[str, object]:
    base = {
        "source_id": "feed1",
        "kind": "http_feed",
        "last_success_at": NOW - timedelta(minutes=17),
        "last_rows": 120,
        "last_error": None,
        "pull_interval_s": 14400,
        "stale": False,
    }
    return base | values


def test_ages_read_naturally() -> None:
    assert [
        age(NOW - d, NOW) for d in (timedelta(seconds=42), timedelta(minutes=17), timedelta(hours=5))
    ] == [
        "42 s ago",
        "17 min ago",
        "5 h ago",
    ]
    assert age(NOW - timedelta(days=3), NOW) == "3 days ago" and age(None, NOW) == "never"


def test_fresh_and_stale_sources() -> None:
    html = sources_header(
        [
            row(),
            row(
                source_id="pos<1>",
                last_success_at=None,
                last_rows=None,
                stale=True,
                last_error="GET /x: HTTP 500",
            ),
        ],
        3,
        NOW,
    )
    assert (
        "<td>feed1</td><td>http_feed</td><td>17 min ago (2026-12-07 11:43:00 UTC)</td><td>120</td><td>fresh</td>"
        in html
    )
    assert "pos&lt;1&gt;" in html and "<td>never</td>" in html
    assert (
        "STALE: no successful pull for 3 intervals (12 h); stores follow old stock. Last error: GET /x: HTTP 500"
        in html
    )


def test_no_sources_no_header() -> None:
    assert sources_header([], 3, NOW) == ""
