"""A future-dated upstream event is refused over HTTP (issue 13, path 8): 400 naming the field, nothing stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon.db.pool import Pool
from tests.db.seed import seed
from tests.faults.app_client import app_client, post_signed


async def test_event_dated_hours_ahead_is_refused_and_real_events_keep_applying(
    pool: Pool, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        await seed(conn)
    now = datetime.now(UTC)

    def batch(*dates: datetime) -> bytes:
        events = [
            {
                "event_id": f"e{i}-{at.timestamp()}",
                "variant_id": "socks",
                "facility_id": "us1",
                "status": "in_stock",
                "quantity": i + 1,
                "occurred_at": at.isoformat(),
            }
            for i, at in enumerate(dates)
        ]
        return json.dumps({"events": events}).encode()

    async with app_client(pool, tmp_path / "credentials") as client:
        status, text = await post_signed(
            client, "/v1/stock-events", batch(now, now, now, now + timedelta(hours=3))
        )
        assert status == 400, text
        refusal = json.loads(text)
        assert refusal["field"] == "occurred_at" and refusal["error"].startswith("events[3]: occurred_at: ")
        assert await pool.fetchval("SELECT count(*) FROM inbox_events") == 0  # the whole batch refused
        status, text = await post_signed(client, "/v1/stock-events", batch(now))
        assert status == 202, text
    assert (
        await pool.fetchval(
            "SELECT quantity FROM facility_stock WHERE variant_id = 'socks' AND facility_id = 'us1'"
        )
        == 1
    )
