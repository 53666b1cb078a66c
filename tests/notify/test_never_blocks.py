"""A notifier whose webhook never answers delays no pass: delivery runs in its own task (shipped
timeouts and attempts; nothing is tuned)."""

from __future__ import annotations

from pathlib import Path

from daemon.config import Config, NotifyConfig, NotifyWebhookConfig
from daemon.credentials import CredentialStore
from daemon.db.pool import Pool
from daemon.notify import AlertNotifier
from tests.e2e.daemon_process import eventually
from tests.e2e.harness import world
from tests.notify.receivers import webhook_receiver
from tests.secret_scan import register_secret

SECRET = "hanging-hook-hmac-key-0123456789"


async def test_a_hanging_webhook_does_not_delay_passes(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w, webhook_receiver(SECRET) as hook:
        register_secret("stocksync-notify-secret", SECRET)
        (w.credentials_dir / "stocksync-notify-secret").write_text(SECRET)
        hook.hang = True
        await w.add_store("na")
        for i in range(10):
            await w.variant(f"v{i}", stock={"us1": "in_stock"})
            await w.map("na", f"E{i}", f"v{i}", (True, None))
        assert (await w.engine.run_pass("na")).outcome == "ok"
        for i in range(4):  # 4 of 10 going out trips the guard
            await w.set_stock(f"v{i}", {"us1": "out_of_stock"})
        assert (await w.engine.run_pass("na", trigger="event")).outcome == "held"

        config = Config(notify=NotifyConfig(webhook=NotifyWebhookConfig(url=hook.url)))
        notifier = AlertNotifier(pool, config, CredentialStore(str(w.credentials_dir), environ={}))
        notifier.start()
        try:
            assert await eventually(lambda: _requests(hook), 10), "the notifier never tried to send"
            for trigger in ("periodic", "manual"):  # passes go on while the delivery hangs
                await w.set_stock("v9", {"us1": "out_of_stock"})
                report = await w.engine.run_pass("na", trigger=trigger)
                assert report.outcome == "held"
            assert hook.requests == 1 and hook.received == []  # still the first attempt, unanswered
        finally:
            await notifier.stop()


async def _requests(hook: object) -> int:
    return int(getattr(hook, "requests", 0))
