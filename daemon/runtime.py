"""`stocksync run`: compose the process, serve until SIGTERM, then drain and close in reverse order.

Start-up order: pool (schema checked) → engine + HTTP client → HTTP server → store workers → LISTEN
wake-ups → scheduler → READY=1. An AsyncExitStack closes them in reverse. SIGHUP reloads the
reloadable configuration; stores' settings are read from the database on every pass anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from daemon import metrics
from daemon.config import Config, listen_address, load_config
from daemon.db.pool import DATABASE_UNAVAILABLE, Pool
from daemon.db.work_queue import WorkItem
from daemon.engine import Engine, PassReport
from daemon.errors import ConfigError
from daemon.logs import configure_logging, get_logger
from daemon.notify import AlertNotifier
from daemon.notify import startup_problem as notify_problem
from daemon.resources import checked_pool, credential_store, engine_for, source_puller_for
from daemon.scheduler import PassScheduler
from daemon.sdnotify import Notifier
from daemon.web.app import build_app
from daemon.web.context import Liveness, Services
from daemon.web.server import GuardedSite, sparse_exception_handler
from daemon.workers import StoreWorkers

WORK_CHANNEL = "stocksync_work"


def replica_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def run_daemon(
    config: Config, *, config_path: str | None = None, notifier: Notifier | None = None
) -> int:
    if (problem := credential_store(config).startup_problem()) is not None:
        raise ConfigError("credentials", problem)
    if (refused := notify_problem(config.notify, credential_store(config))) is not None:
        raise ConfigError(*refused)
    notify = notifier or Notifier()
    log = get_logger(replica=replica_name())
    liveness = Liveness()
    stop = asyncio.Event()
    reload_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum, handler in (
        (signal.SIGTERM, stop.set),
        (signal.SIGINT, stop.set),
        (signal.SIGHUP, reload_requested.set),
    ):
        loop.add_signal_handler(signum, handler)
    owner = replica_name()
    try:
        async with contextlib.AsyncExitStack() as stack:
            notify.status("starting: database")
            pool = await stack.enter_async_context(checked_pool(config))
            engine = await stack.enter_async_context(engine_for(config, pool))
            puller = await stack.enter_async_context(source_puller_for(config, pool, owner))
            scheduler = PassScheduler(pool, config, puller)  # started once the workers run
            services = Services(
                config, pool, engine, credential_store(config), liveness, puller.factory, scheduler.pull_soon
            )
            # a request whose client disconnected is cancelled, not finished: its transaction rolls back
            runner = web.AppRunner(
                build_app(services),
                access_log=None,
                handle_signals=False,
                keepalive_timeout=config.http.idle_timeout_s,
                handler_cancellation=True,
            )
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            host, port = listen_address(config)
            site = GuardedSite(runner, host, port, config.http)
            loop.set_exception_handler(sparse_exception_handler(site.log))
            await site.start()
            workers = StoreWorkers(pool, engine, config, owner, on_done=_record_metrics)
            workers.start()
            stack.push_async_callback(lambda: workers.drain(config.sync.grace_period_s))
            background = [
                asyncio.create_task(_listen_for_work(pool, workers.wake, stop, config.sync.poll_interval_s)),
                asyncio.create_task(_watch_loop(liveness, notify)),
            ]
            stack.push_async_callback(_cancel_all, background)
            # alerts go out from their own tasks: a slow receiver never holds a pass
            alert_notifier = AlertNotifier(pool, config, credential_store(config))
            alert_notifier.start()
            stack.push_async_callback(alert_notifier.stop)
            scheduler.start()
            stack.callback(scheduler.stop)
            liveness.scheduler_running = True
            liveness.started = True
            log.info("daemon_ready", listen=config.http.listen, workers=config.sync.workers, owner=owner)
            notify.ready(f"serving on {config.http.listen}, {config.sync.workers} store workers")
            while not stop.is_set():
                await _wait_any(stop, reload_requested)
                if reload_requested.is_set() and not stop.is_set():
                    reload_requested.clear()
                    _reload(config_path, engine, workers, scheduler, notify)
            liveness.draining = True
            liveness.scheduler_running = False
            notify.stopping()
            log.info("daemon_draining", grace_s=config.sync.grace_period_s, busy=workers.busy)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
    log.info("daemon_stopped")
    return 0


def _record_metrics(store_id: str, items: list[WorkItem], report: PassReport) -> None:
    metrics.record_pass(report.platform, report)
    metrics.record_event_latency(report.platform, items, report, datetime.now(UTC))


def _reload(
    config_path: str | None, engine: Engine, workers: StoreWorkers, scheduler: PassScheduler, notify: Notifier
) -> None:
    """Re-read the config file; apply what can change live, name what needs a restart."""
    notify.reloading()
    log = get_logger()
    try:
        fresh = load_config(config_path)
    except ConfigError as exc:  # a bad reload keeps the running configuration
        log.warning("reload_refused", error=str(exc))
        notify.status("reload refused: configuration invalid; running with the previous one")
        return
    configure_logging(fresh.logging.level, fresh.logging.format, stream=sys.stderr)  # as at start
    engine.reconfigure(fresh)
    workers.reconfigure(fresh)
    scheduler.reconfigure(fresh)
    log.info("config_reloaded", source=fresh.source)
    notify.notify(f"READY=1\nSTATUS=configuration reloaded from {fresh.source}")


async def _wait_any(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _listen_for_work(pool: Pool, wake: Callable[[], None], stop: asyncio.Event, retry_s: float) -> None:
    """Hold one connection LISTENing for new work; reconnect after a database outage."""
    while not stop.is_set():
        try:
            async with pool.acquire() as conn:

                def on_notify(*_: object) -> None:
                    wake()

                await conn.add_listener(WORK_CHANNEL, on_notify)
                wake()  # work may have arrived while we were not listening
                while not stop.is_set() and not conn.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=1.0)
                if not conn.is_closed():
                    await conn.remove_listener(WORK_CHANNEL, on_notify)
        except DATABASE_UNAVAILABLE:
            await asyncio.sleep(retry_s)


async def _watch_loop(liveness: Liveness, notify: Notifier, tick_s: float = 0.5) -> None:
    """Measure event-loop lag and ping the systemd watchdog from the loop itself."""
    interval = notify.watchdog_interval_s
    last_ping = 0.0
    while True:
        expected = time.monotonic() + tick_s
        await asyncio.sleep(tick_s)
        now = time.monotonic()
        liveness.loop_lag_s = max(0.0, now - expected)
        if interval is not None and now - last_ping >= interval:
            notify.watchdog()
            last_ping = now
