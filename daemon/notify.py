"""Outbound notifications of active alerts: off unless `[notify.webhook]` or `[notify.email]` is set.

Every `notify.tick_s` one replica (whichever holds the notification_cycle row) computes the active
alerts, plans what each channel sends (daemon/notify_plan.py), records it, and hands the messages to
its per-channel delivery task through a bounded queue. Delivery retries temporary failures with
jittered back-off; a message that still fails has its recorded state put back, so a later cycle plans
it again. Nothing here runs inside a pass: a hanging receiver delays only later messages of its channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from daemon.alerts import Thresholds, active_alerts
from daemon.config import Config, NotifyConfig
from daemon.credentials import CredentialStore
from daemon.db import alerts as alerts_db
from daemon.db.pool import DATABASE_UNAVAILABLE, Pool
from daemon.errors import CredentialError
from daemon.logs import get_logger
from daemon.notify_channels import (
    EMAIL,
    WEBHOOK,
    Channel,
    DeliveryError,
    WebhookChannel,
    channel_kinds,
    configured_channels,
    with_retries,
)
from daemon.notify_plan import Outgoing, Policy, plan


def thresholds(config: Config) -> Thresholds:
    """The bounds of the alerts, the same for the notifier and the drift page."""
    return Thresholds(
        config.notify.failing_after_s,
        config.notify.stale_after_intervals,
        config.sources.stale_after_intervals,
    )


def startup_problem(config: NotifyConfig, credentials: CredentialStore) -> tuple[str, str] | None:
    """(config key, why) when a configured channel cannot sign or log in: refused at start, not at the
    first alert hours later."""
    if config.webhook.url:
        try:
            WebhookChannel(config, credentials).secret()
        except CredentialError as exc:
            return "notify.webhook.secret_credential", str(exc)
    if config.email.host and config.email.username:
        try:
            credentials.load(config.email.password_credential)
        except CredentialError as exc:
            return "notify.email.password_credential", str(exc)
    return None


class AlertNotifier:
    def __init__(
        self,
        pool: Pool,
        config: Config,
        credentials: CredentialStore,
        channels: dict[str, Channel] | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._pool = pool
        self._config = config.notify
        self._thresholds = thresholds(config)
        self._channels = configured_channels(config.notify, credentials) if channels is None else channels
        self._sleep = sleep
        self._queues: dict[str, asyncio.Queue[tuple[Outgoing, datetime]]] = {
            name: asyncio.Queue(maxsize=config.notify.queue_size) for name in self._channels
        }
        self._tasks: list[asyncio.Task[None]] = []
        self._log = get_logger()

    @property
    def enabled(self) -> bool:
        return bool(self._channels)

    def start(self) -> None:
        if not self.enabled:
            return
        self._tasks.append(asyncio.create_task(self._evaluate_loop()))
        self._tasks.extend(asyncio.create_task(self._deliver_loop(name)) for name in self._channels)
        self._log.info("notifier_started", channels=sorted(self._channels), tick_s=self._config.tick_s)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for channel in self._channels.values():
            await channel.close()

    async def evaluate_once(self) -> list[Outgoing]:
        """One cycle: the messages this replica recorded and queued (none while another plans)."""
        alerts = active_alerts(await alerts_db.snapshot(self._pool), self._thresholds)
        kinds = channel_kinds(self._config)
        by_channel = {name: [a for a in alerts if a.kind in kinds[name]] for name in self._channels}
        async with alerts_db.planning_cycle(self._pool) as cycle:
            if cycle is None:
                return []
            planned = plan(
                by_channel,
                cycle.states,
                cycle.sent_last_hour,
                cycle.now,
                Policy(self._config.reminder_s, self._config.max_per_hour),
            )
            room = {name: queue.maxsize - queue.qsize() for name, queue in self._queues.items()}
            accepted = []
            for message in planned.messages:  # what finds no room stays unrecorded: the next cycle has it
                if room[message.channel] > 0:
                    room[message.channel] -= 1
                    accepted.append(message)
            await cycle.record(accepted)
            recorded_at = cycle.now
        for message in accepted:
            self._queues[message.channel].put_nowait((message, recorded_at))
        if planned.deferred or len(accepted) < len(planned.messages):
            self._log.warning(
                "notifications_deferred",
                over_hourly_limit=planned.deferred,
                queue_full=len(planned.messages) - len(accepted),
            )
        return accepted

    async def _evaluate_loop(self) -> None:
        while True:
            try:
                await self.evaluate_once()
            except DATABASE_UNAVAILABLE as exc:
                self._log.warning("notify_cycle_failed", error=type(exc).__name__)
            except Exception as exc:  # noqa: BLE001 - a bug here must not end notifications for good
                self._log.error("notify_cycle_failed", error=type(exc).__name__)
            await self._sleep(self._config.tick_s)

    async def _deliver_loop(self, name: str) -> None:
        queue = self._queues[name]
        while True:
            message, recorded_at = await queue.get()
            await self.deliver(message, recorded_at)

    async def deliver(self, message: Outgoing, recorded_at: datetime) -> bool:
        channel = self._channels[message.channel]
        first = message.notices[0]
        about = {
            "channel": message.channel,
            "kind": first.alert.kind if not message.summarised else "summary",
            "state": first.state if not message.summarised else "summary",
            "store_id": first.alert.store_id if not message.summarised else None,
            "notices": len(message.notices),
        }
        try:
            outcome = await with_retries(
                lambda: channel.send(message, datetime.now(UTC)),
                self._config.attempts,
                self._config.backoff_s,
                sleep=self._sleep,
            )
        except DeliveryError as exc:
            self._log.warning("notification_failed", reason=exc.reason, **about)
            with contextlib.suppress(*DATABASE_UNAVAILABLE):
                await alerts_db.undo(self._pool, message, recorded_at)
            return False
        self._log.info("notification_sent", outcome=outcome, **about)
        return True


async def send_tests(
    config: NotifyConfig, credentials: CredentialStore, only: str | None = None
) -> list[tuple[str, str | None, str]]:
    """`stocksync notify test`: (channel, outcome or None, failure reason or "") per configured channel."""
    channels = configured_channels(config, credentials)
    results: list[tuple[str, str | None, str]] = []
    host = socket.gethostname()
    for name in (WEBHOOK, EMAIL):
        if name not in channels or only not in (None, name):
            continue
        try:
            outcome = await channels[name].send_test(host, datetime.now(UTC))
            results.append((name, outcome, ""))
        except DeliveryError as exc:
            results.append((name, None, exc.reason))
        finally:
            await channels[name].close()
    return results
