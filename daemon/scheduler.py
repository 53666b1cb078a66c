"""Periodic full passes: an APScheduler job enqueues every due store; due-ness lives in the database.
A second job prunes finished work items past their retention; a third releases stores the
mass-unavailable guard holds once upstream undid the change (no event queues work for an undo that
brings desired back to what we applied, so nothing else would look).

Any replica may run the job: `enqueue_due_passes` locks due schedule rows with SKIP LOCKED and moves
each store's next due time (interval ± jitter) in the same statement, so a store is queued once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from daemon.config import Config
from daemon.db import events as events_db
from daemon.db import guard as guard_db
from daemon.db import state as state_db
from daemon.db import work_queue
from daemon.db.pool import DATABASE_UNAVAILABLE, Pool
from daemon.logs import get_logger
from daemon.source_pulls import SourcePuller

PRUNE_INTERVAL_S = 60.0
PULL_JOB = "pull_due_sources"


class PassScheduler:
    def __init__(self, pool: Pool, config: Config, puller: SourcePuller | None = None) -> None:
        self._pool = pool
        self._config = config
        self._puller = puller
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        self._scheduler.add_job(
            self.enqueue_due,
            "interval",
            seconds=self._config.sync.scheduler_tick_s,
            next_run_time=datetime.now(UTC),
            id="enqueue_due_passes",
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.add_job(
            self.release_undone_guards,
            "interval",
            seconds=self._config.sync.scheduler_tick_s,
            id="release_undone_guards",
            max_instances=1,
            coalesce=True,
        )
        if self._puller is not None:
            # due and requested source pulls; the due-ness and the lease live in the database
            self._scheduler.add_job(
                self.pull_sources,
                "interval",
                seconds=self._config.sync.scheduler_tick_s,
                next_run_time=datetime.now(UTC),
                id=PULL_JOB,
                max_instances=1,
                coalesce=True,
            )
        self._scheduler.add_job(
            self.prune_finished,
            "interval",
            seconds=PRUNE_INTERVAL_S,
            id="prune_finished_work",
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def reconfigure(self, config: Config) -> None:
        self._config = config
        if self._scheduler.running:
            jobs = ["enqueue_due_passes", "release_undone_guards"] + ([PULL_JOB] if self._puller else [])
            for job in jobs:
                self._scheduler.reschedule_job(job, trigger="interval", seconds=config.sync.scheduler_tick_s)
        if self._puller is not None:
            self._puller.reconfigure(config)

    def pull_soon(self) -> None:
        """A pull was requested: look now instead of at the next tick."""
        if self._puller is not None and self._scheduler.running:
            self._scheduler.modify_job(PULL_JOB, next_run_time=datetime.now(UTC))

    async def pull_sources(self) -> int:
        """Pull every due or requested source this replica can claim; returns how many were pulled."""
        if self._puller is None:
            return 0
        return len(await self._puller.pull_due())

    async def enqueue_due(self) -> list[str]:
        try:
            stores = await work_queue.enqueue_due_passes(self._pool, self._config.sync.jitter_share)
        except DATABASE_UNAVAILABLE as exc:
            get_logger().warning("schedule_failed", error=type(exc).__name__)
            return []
        if stores:
            get_logger().info("periodic_passes_queued", stores=len(stores))
        return stores

    async def release_undone_guards(self) -> list[str]:
        try:
            stores = await guard_db.release_undone(self._pool)
        except DATABASE_UNAVAILABLE as exc:
            get_logger().warning("guard_release_check_failed", error=type(exc).__name__)
            return []
        for store_id in stores:
            get_logger(store_id=store_id).info("guard_released", why="upstream undid the held change")
        return stores

    async def prune_finished(self) -> int:
        try:
            removed = await work_queue.prune_finished(
                self._pool, self._config.retention.done_items_s, self._config.retention.failed_items_s
            )
            # store webhook delivery ids, kept as long as failed items: re-deliveries come within days
            removed += await state_db.prune_deliveries(self._pool, self._config.retention.failed_items_s)
            removed += await events_db.prune_inbox(self._pool, self._config.retention.inbox_events_s)
        except DATABASE_UNAVAILABLE as exc:
            get_logger().warning("prune_failed", error=type(exc).__name__)
            return 0
        if removed:
            get_logger().info("finished_work_pruned", rows=removed)
        return removed
