"""Through a real `stocksync run`: a guard trip reaches a local webhook receiver as exactly one signed
message, and its release as exactly one "resolved"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.db.pool import Pool
from tests.e2e.daemon_process import eventually, running_daemon
from tests.e2e.harness import world
from tests.faults.daemon_world import IN, catalog, first_passes_done
from tests.faults.test_guard_alert import everything_out
from tests.notify.receivers import webhook_receiver
from tests.secret_scan import register_secret

SECRET = "e2e-notify-hmac-key-0123456789ab"


async def cycles_after(pool: Pool, count: int) -> None:
    """Wait until the notifier has evaluated `count` more times (its cycle row's stamp moved)."""
    seen: set[Any] = set()

    async def moved() -> bool:
        seen.add(await pool.fetchval("SELECT evaluated_at FROM notification_cycle"))
        return len(seen) > count

    assert await eventually(moved, 30)


async def test_a_guard_trip_sends_one_signed_webhook_and_one_resolved(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w, webhook_receiver(SECRET) as hook:
        register_secret("stocksync-notify-secret", SECRET)
        (w.credentials_dir / "stocksync-notify-secret").write_text(SECRET)
        ids = await catalog(w, {"na": "north_america"}, 10)
        async with running_daemon(
            db_dsn,
            tmp_path,
            w.credentials_dir,
            notify={"tick_s": 0.5, "public_url": "https://stocksync.example.com"},
            extra_env={"STOCKSYNC_NOTIFY__WEBHOOK__URL": hook.url},
        ) as daemon:
            await first_passes_done(pool, 1)
            await cycles_after(pool, 2)
            assert hook.received == []  # a healthy store: nothing to say

            status, body = await daemon.post_events(everything_out(ids))
            assert status == 202, body
            assert await eventually(lambda: _count(hook), 30), daemon.logs()[-3000:]
            await cycles_after(pool, 3)  # later cycles see the alert still firing: no second message
            (message,) = hook.received
            assert message.signed
            got = message.json
            assert (got["kind"], got["state"], got["store_id"], got["platform"]) == (
                "guard_held",
                "firing",
                "na",
                "sandbox",
            )
            assert got["link"] == "https://stocksync.example.com/drift?store=na"
            assert SECRET not in message.body.decode()

            status, body = await daemon.post_events(_undo(ids))  # upstream undid it: the store is released
            assert status == 202, body
            assert await eventually(lambda: _count(hook, 2), 60), daemon.logs()[-3000:]
            await cycles_after(pool, 3)
            assert [m.json["state"] for m in hook.received] == ["firing", "resolved"]
            assert all(m.signed for m in hook.received)
            assert "notification_sent" in daemon.logs() and SECRET not in daemon.logs()


def _undo(ids: list[str]) -> list[dict[str, Any]]:
    """Every variant back in stock (new event ids)."""
    events = everything_out(ids)
    for event in events:
        event["status"], event["event_id"] = IN, "undo-" + event["event_id"]
    return events


async def _count(hook: Any, n: int = 1) -> bool:
    return len(hook.received) >= n
