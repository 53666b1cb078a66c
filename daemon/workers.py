"""A bounded pool of store workers: lock a store → run its queued work through the engine → unlock.

One process works a store at a time (its session lock, daemon/db/leases.py: a killed replica's stores
are free at once); a broken store opens its own circuit and never delays the others, and so does any
unexpected error in a store's work (attempts, back-off, circuit; never a hot loop). Workers wake on
LISTEN/NOTIFY and poll as a fallback. Draining stops claiming, lets in-flight work finish within the
grace period, then hands unfinished items back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

from daemon.config import Config
from daemon.db import work_queue
from daemon.db.leases import StoreLocks
from daemon.db.pool import DATABASE_UNAVAILABLE, Pool
from daemon.db.work_queue import WorkItem
from daemon.engine import Engine, PassReport, StoreLockLost
from daemon.errors import StocksyncError
from daemon.logs import get_logger

ItemsDone = Callable[[str, list[WorkItem], PassReport], None]


class StoreWorkers:
    def __init__(
        self, pool: Pool, engine: Engine, config: Config, owner: str, *, on_done: ItemsDone | None = None
    ) -> None:
        self._pool = pool
        self._engine = engine
        self._config = config
        self._owner = owner
        self._on_done = on_done
        self._locks = StoreLocks(pool)
        self._doorbell = _Doorbell()
        self._announced = asyncio.Event()  # set and replaced at every wake: express lanes look at once
        self._stopping = asyncio.Event()
        self._busy: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._log = get_logger(owner=owner)

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._loop(), name=f"store-worker-{i}")
            for i in range(self._config.sync.workers)
        ]

    def reconfigure(self, config: Config) -> None:
        """Live settings (timeouts, back-off); the number of workers changes only at restart."""
        self._config = config

    def wake(self) -> None:
        self._doorbell.ring()
        announced, self._announced = self._announced, asyncio.Event()
        announced.set()

    @property
    def busy(self) -> int:
        return len(self._busy)

    async def drain(self, grace_s: float) -> None:
        """Stop claiming; give in-flight work `grace_s` to finish; then cancel (items go back)."""
        self._stopping.set()
        self._doorbell.ring_all()
        if self._busy:
            await asyncio.wait(set(self._busy), timeout=grace_s)
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self._locks.close()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                store_id = await self._claim()
            except DATABASE_UNAVAILABLE as exc:  # an outage must not kill the worker; it retries
                self._log.warning("claim_failed", error=type(exc).__name__)
                store_id = None
            if store_id is None:
                await self._doorbell.wait(self._config.sync.poll_interval_s)
                continue
            self._doorbell.ring()  # there was work: another idle worker looks for more
            task = asyncio.create_task(self._work_store(store_id))
            self._busy.add(task)
            try:
                await asyncio.shield(task)
            except Exception as exc:  # noqa: BLE001 - one store's failure must never end a worker
                # the database went away mid-pass: the items stay running, the store's lock is let go,
                # and the next claim (this replica's included) takes them back
                self._log.warning("store_work_crashed", store_id=store_id, error=type(exc).__name__)
                await asyncio.sleep(self._config.sync.poll_interval_s)
            finally:
                self._busy.discard(task)

    async def _claim(self) -> str | None:
        """A store with ready work whose lock no other process holds (locked now), or None."""
        candidates = await work_queue.ready_stores(self._pool, self._locks.held)
        return await self._locks.try_lock(candidates) if candidates else None

    async def _work_store(self, store_id: str) -> None:
        renewer = asyncio.create_task(
            work_queue.keep_pass_mark(self._pool, store_id, self._owner, self._config.sync.in_pass_mark_ttl_s)
        )
        items: list[WorkItem] = []
        try:
            async with self._pool.acquire() as conn:
                items = await work_queue.claim_store_work(
                    conn, store_id, self._owner, self._config.sync.in_pass_mark_ttl_s
                )
            if items:
                await self._run_with_express_lane(store_id, items)
        except asyncio.CancelledError:
            await asyncio.shield(self._give_back(store_id, items))
            raise
        except StoreLockLost:  # the lock's session died (database restart): stop writing, hand back
            self._log.warning("store_lock_lost", store_id=store_id)
            await self._give_back(store_id, items)
        except DATABASE_UNAVAILABLE:
            raise  # the items stay running; whoever locks the store next takes them back
        except Exception as exc:  # noqa: BLE001 - a bug or a bad value: bounded like a platform error
            self._log.exception("store_work_error", store_id=store_id, error=type(exc).__name__)
            await self._failed(store_id, items, f"internal error: {type(exc).__name__}: {exc}"[:500])
        finally:
            renewer.cancel()
            try:  # the mark is cosmetic; the lock must be let go whatever clearing the mark raised
                with contextlib.suppress(*DATABASE_UNAVAILABLE):
                    await asyncio.shield(work_queue.clear_pass_mark(self._pool, store_id, self._owner))
            finally:
                await asyncio.shield(self._locks.unlock(store_id))
                self._doorbell.ring()  # work queued for this store while we held it can be claimed now

    async def _run_with_express_lane(self, store_id: str, items: list[WorkItem]) -> None:
        """A full pass of a large store against a rate-limited platform takes minutes; the store's variant
        items (events) run beside it in an express lane instead of waiting behind it. Both hold the same
        store lock and share the store's pacer, so an express write waits for one request slot at most;
        the pass skips any planned write an express item superseded (Engine._still_wanted)."""
        full = [i for i in items if i.kind == "full_pass"]
        if not full:
            await self._run(store_id, items)
            return
        finished = asyncio.Event()
        lane = asyncio.create_task(
            self._express_lane(store_id, [i for i in items if i.kind != "full_pass"], finished)
        )
        try:
            await self._run(store_id, full)
        finally:
            finished.set()
            await lane  # its current items finish (or are given back) before the lock goes

    async def _express_lane(self, store_id: str, first: list[WorkItem], finished: asyncio.Event) -> None:
        items = first
        try:
            while True:
                if items:
                    await self._run(store_id, items)
                if finished.is_set():
                    return
                await self._until_work_announced(finished)
                items = [] if finished.is_set() else await self._claim_express(store_id)
        except asyncio.CancelledError:
            await asyncio.shield(self._give_back(store_id, items))
            raise
        except Exception as exc:  # noqa: BLE001 - the lane must never end the store's full pass
            self._log.warning("express_lane_failed", store_id=store_id, error=type(exc).__name__)
            await self._give_back(store_id, items)

    async def _until_work_announced(self, finished: asyncio.Event) -> None:
        """Until work is announced (NOTIFY), the pass ends or express_poll_s passes (a missed one)."""
        waits = [asyncio.ensure_future(finished.wait()), asyncio.ensure_future(self._announced.wait())]
        try:
            await asyncio.wait(
                waits, timeout=self._config.sync.express_poll_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for wait in waits:
                wait.cancel()

    async def _claim_express(self, store_id: str) -> list[WorkItem]:
        if not self._locks.holds(store_id):
            return []
        return await work_queue.claim_express_items(self._pool, store_id, self._owner)

    async def _run(self, store_id: str, items: list[WorkItem]) -> None:
        full = [i for i in items if i.kind == "full_pass"]
        only = None if full else sorted({i.external_id for i in items if i.external_id})
        trigger = (full or items)[0].trigger
        log = self._log.bind(store_id=store_id)
        try:
            report = await self._engine.run_pass(
                store_id, trigger=trigger, only=only, holds_store=lambda: self._locks.holds(store_id)
            )
        except StocksyncError as exc:  # store gone, credential missing, ...: retry later, count the failure
            await self._failed(store_id, items, str(exc))
            log.warning("store_work_failed", error=str(exc))
            return
        if self._on_done is not None:
            self._on_done(store_id, items, report)
        if report.outcome == "failed":
            await self._failed(store_id, items, report.error or "pass failed")
            return
        retry_ids = {f.external_id for f in report.failures if not f.permanent}
        to_retry = [i.id for i in items if i.external_id in retry_ids]
        await work_queue.complete(self._pool, store_id, [i.id for i in items if i.id not in to_retry])
        if to_retry:
            async with self._pool.acquire() as conn:
                await work_queue.retry(
                    conn,
                    store_id,
                    to_retry,
                    "temporary item failure",
                    self._config.retries.queued_attempts,
                    self._config.retries.queued_backoff_s,
                )

    async def _failed(self, store_id: str, items: list[WorkItem], error: str) -> None:
        async with self._pool.acquire() as conn:
            await work_queue.retry(
                conn,
                store_id,
                [i.id for i in items],
                error,
                self._config.retries.queued_attempts,
                self._config.retries.queued_backoff_s,
            )
        until = await work_queue.record_store_failure(
            self._pool,
            store_id,
            self._config.retries.circuit_open_after,
            self._config.retries.circuit_backoff_s,
        )
        if until is not None:
            self._log.warning("store_circuit_open", store_id=store_id, until=until.isoformat(), error=error)

    async def _give_back(self, store_id: str, items: list[WorkItem]) -> None:
        with contextlib.suppress(*DATABASE_UNAVAILABLE):  # left running: the next claimer takes them
            async with self._pool.acquire() as conn:
                await work_queue.release(conn, store_id, [i.id for i in items])


class _Doorbell:
    """Wakes one idle worker per ring (a NOTIFY), not all of them: every woken worker runs the claim
    query and all but one would come back empty (py-spy: a third of the daemon's database round trips
    at 1,000 events/s). A worker that claims work rings again, so more join while there is work. A
    ring with nobody idle is remembered for the next worker about to wait."""

    def __init__(self) -> None:
        self._idle: deque[asyncio.Future[None]] = deque()
        self._missed = False

    def ring(self) -> None:
        while self._idle:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._missed = True

    def ring_all(self) -> None:
        while self._idle:
            self.ring()
        self._missed = True

    async def wait(self, timeout_s: float) -> None:
        if self._missed:
            self._missed = False
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._idle.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            with contextlib.suppress(ValueError):  # a ring may have popped it meanwhile
                self._idle.remove(waiter)  # at most one entry per worker, so this stays short

    @property
    def idle(self) -> int:
        return len(self._idle)
