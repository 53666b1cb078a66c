"""One reconcile pass per store, top to bottom: desired → observe → drift → plan → guard → apply → record.

The engine is the only place that combines the database, the planner and a reconciler. Every trigger
(periodic, event, manual, catalog pull, webhook) goes through run_pass(), and run_pass() only ever
reads and writes the store's *synced* variants (pass_rows joins synced_variants): pitfall 8 is
enforced here, once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from daemon import guard
from daemon.config import Config
from daemon.credentials import CredentialStore
from daemon.db import drift as drift_db
from daemon.db import guard as guard_db
from daemon.db import runs as runs_db
from daemon.db import state as state_db
from daemon.db import work_queue
from daemon.db.pool import Pool
from daemon.db.runs import ChangeLogEntry, RunCounts
from daemon.db.state import PassRow, StateUpdate
from daemon.db.stores import load_store
from daemon.logs import get_logger
from daemon.model import Availability, Change, ItemFailure, Observed, StoreConfig, SyncedVariant
from daemon.planner import (
    Decision,
    DriftAction,
    PlanSettings,
    Verdict,
    decide,
    guard_reason,
    needs_no_decision,
)
from daemon.store_values import PROBLEM, screen
from reconcilers import ReconcilerFactory
from reconcilers.batching import unit_batches
from reconcilers.interface import Notification, Reconciler
from reconcilers.ratelimit import urgent_requests
from reconcilers.transport import TransportError

SUPERSEDED = "superseded"  # a planned write skipped: upstream changed after it was planned


class StoreLockLost(Exception):
    """The store's lock is no longer ours (its database session died): no further write may leave."""


REAPPLY = "reapply"  # the trigger of the pass a drift `reapply` runs (or queues)
REAPPLY_REASON = "reapplied by support"


@dataclass(frozen=True, slots=True)
class PlannedWrite:
    """A write the pass planned (dry run) or attempted, as shown to people."""

    external_id: str
    variant_id: str
    sku: str
    observed: Availability | None
    target: Availability
    reason: str


@dataclass(frozen=True, slots=True)
class PassReport:
    store_id: str
    platform: str
    trigger: str
    dry_run: bool
    outcome: str  # ok | partial | held | failed
    counts: RunCounts
    run_id: int | None = None
    held_reason: str | None = None
    error: str | None = None
    writes: tuple[PlannedWrite, ...] = ()
    failures: tuple[ItemFailure, ...] = ()
    skipped: dict[str, int] = field(default_factory=dict)
    drift_opened: int = 0
    duration_s: float = 0.0
    held_writes: tuple[PlannedWrite, ...] = ()  # less-sellable writes the guard held (never sent)
    guard_tripped: bool = False  # this pass tripped the mass-unavailable guard: the store became held


@dataclass(frozen=True, slots=True)
class NotificationResult:
    matched: int  # notified items that are synced variants of this store
    drift_opened: int
    queued: int  # variants queued for a write (a policy overwrite, or desired differs)


ObserveFn = Callable[[list[SyncedVariant]], Awaitable[list[Observed]]]


@dataclass
class _Applied:
    confirmed: list[Observed] = field(default_factory=list)
    failures: list[ItemFailure] = field(default_factory=list)
    problems: list[ItemFailure] = field(default_factory=list)  # cannot be enforced here: reported
    superseded: list[str] = field(default_factory=list)  # upstream changed since planned: not sent


@dataclass
class _Plan:
    """What the observe/plan phase accumulates across pages (only the differences are kept)."""

    changes: list[tuple[PassRow, Change]] = field(default_factory=list)
    # overwrites: the back-off recorded for the next drift once the write is confirmed
    backoff_after: dict[str, datetime] = field(default_factory=dict)
    verdicts: Counter[str] = field(default_factory=Counter)
    drifted: int = 0
    drift_opened: int = 0
    checked: int = 0


class Engine:
    def __init__(
        self,
        pool: Pool,
        factory: ReconcilerFactory,
        credentials: CredentialStore,
        config: Config,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._factory = factory
        self._credentials = credentials
        self._config = config
        self._clock = clock

    def reconfigure(self, config: Config) -> None:
        self._config = config

    def reconciler_for(self, store: StoreConfig) -> Reconciler:
        return self._factory.build(store, self._credentials.load_for_store(store.credential))

    async def run_pass(
        self,
        store_id: str,
        *,
        trigger: str = "cli",
        dry_run: bool = False,
        only: Sequence[str] | None = None,
        confirm_guard: bool = False,
        holds_store: Callable[[], bool] | None = None,
    ) -> PassReport:
        """Reconcile one store (or only the given synced variants of it).

        `holds_store` says whether the caller still holds the store's lock; it is checked before every
        write batch, so a process that lost its store never writes over the new holder. A pass of given
        variants (what events and webhooks queue) takes the store's request slots ahead of a full pass.
        """
        if only is None:
            return await self._run_pass(store_id, trigger, dry_run, only, confirm_guard, holds_store)
        with urgent_requests():
            return await self._run_pass(store_id, trigger, dry_run, only, confirm_guard, holds_store)

    async def _run_pass(
        self,
        store_id: str,
        trigger: str,
        dry_run: bool,
        only: Sequence[str] | None,
        confirm_guard: bool,
        holds_store: Callable[[], bool] | None,
    ) -> PassReport:
        started = time.monotonic()
        async with self._pool.acquire() as conn:
            store = await load_store(conn, store_id)
        reconciler = self.reconciler_for(store)
        log = get_logger(store_id=store.id, platform=store.platform, trigger=trigger, dry_run=dry_run)
        run_id = None if dry_run else await runs_db.start_run(self._pool, store.id, trigger, False)
        if run_id is not None:
            log = log.bind(pass_id=run_id)
        base = PassReport(store.id, store.platform, trigger, dry_run, "failed", RunCounts(), run_id=run_id)
        try:
            plan = await self._observe_and_plan(
                store, reconciler.observe, only, dry_run, run_id, "pass", reapply=trigger == REAPPLY
            )
            report = await self._guard_and_apply(
                store, reconciler, plan, base, confirm_guard, only, holds_store
            )
        except TransportError as exc:
            report = replace(base, error=str(exc))
            log.warning("pass_failed", error=str(exc))
        report = replace(report, duration_s=time.monotonic() - started)
        if run_id is not None:
            await runs_db.finish_run(
                self._pool, store.id, run_id, report.outcome, report.counts, report.held_reason, report.error
            )
            if report.outcome == "ok" and only is None:
                await runs_db.mark_pass_succeeded(self._pool, store.id)
        log.info("pass_finished", outcome=report.outcome, **dataclasses.asdict(report.counts))
        return report

    async def take_notification(
        self,
        store_id: str,
        notified: Sequence[Observed],
        ref_key: str | None = None,
        product_of: Callable[[str], str] | None = None,
    ) -> NotificationResult:
        """A store told us what it shows now (webhook): detect drift at once; queue needed writes.

        Echoes of our own writes equal applied and are not drift. Writes are left to a worker so the
        webhook is answered without waiting on the platform. A re-delivered notification (same platform
        delivery id) changes nothing, nor does one the platform stamped earlier than a notification of
        the same item already taken; a platform that sends neither cannot be told apart.
        """
        async with self._pool.acquire() as conn:
            store = await load_store(conn, store_id)
        delivery = notified if isinstance(notified, Notification) else Notification(notified)
        if delivery.delivery_id is not None and not await state_db.take_delivery(
            self._pool, store.id, delivery.delivery_id
        ):
            return NotificationResult(0, 0, 0)  # a re-delivery: its news is old, or already taken
        if delivery.reread or (delivery.reread_products and product_of is None):
            # something changed without saying what: re-read it now
            if delivery:  # the items it names (values unknown): only those, in a queued pass
                named = sorted(
                    {ext for item in delivery if (ext := await self._synced_id(store.id, item, ref_key))}
                )
                if named:
                    await work_queue.enqueue_variants(self._pool, store.id, named, "webhook")
                return NotificationResult(0, 0, len(named))
            queued = await work_queue.enqueue_full_pass(self._pool, store.id, "webhook")
            return NotificationResult(0, 0, int(queued))
        if delivery.reread_products and product_of is not None:  # named products: read them back
            members = [
                e
                for e in await state_db.synced_external_ids(self._pool, store.id)
                if product_of(e) in delivery.reread_products
            ]
            if members:
                await work_queue.enqueue_variants(self._pool, store.id, members, "webhook")
            return NotificationResult(len(members), 0, len(members))
        by_id: dict[str, Observed] = {}
        for item in delivery:
            external_id = await self._synced_id(store.id, item, ref_key)
            if external_id is not None:
                by_id[external_id] = replace(item, external_id=external_id)
        if delivery.occurred_at is not None:  # the platform's clock against its own earlier stamps
            fresh = await state_db.take_notified(self._pool, store.id, list(by_id), delivery.occurred_at)
            by_id = {ext: item for ext, item in by_id.items() if ext in fresh}
        if not by_id:
            return NotificationResult(0, 0, 0)

        async def observe(variants: list[SyncedVariant]) -> list[Observed]:
            return [by_id[v.external_id] for v in variants if v.external_id in by_id]

        plan = await self._observe_and_plan(store, observe, sorted(by_id), False, None, "webhook")
        writes = [change.external_id for _, change in plan.changes]
        if writes:
            await work_queue.enqueue_variants(self._pool, store.id, writes, "webhook")
        return NotificationResult(len(by_id), plan.drift_opened, len(writes))

    async def _synced_id(self, store_id: str, item: Observed, ref_key: str | None) -> str | None:
        """The synced external id a notification names: directly, or through the platform's declared
        ref key only (a shared value such as a location id must never match another variant)."""
        found = await state_db.external_id_for(self._pool, store_id, item.external_id, "")
        if found is not None or ref_key is None or not item.platform_ref or ref_key not in item.platform_ref:
            return found
        return await state_db.external_id_for(self._pool, store_id, str(item.platform_ref[ref_key]), ref_key)

    async def _observe_and_plan(
        self,
        store: StoreConfig,
        observe: ObserveFn,
        only: Sequence[str] | None,
        dry_run: bool,
        run_id: int | None,
        via: str,
        *,
        reapply: bool = False,  # support asked for the desired values back: the writes say so
    ) -> _Plan:
        plan = _Plan()
        settings = PlanSettings(
            store.drift_policy,
            store.rules.mode,
            self._config.drift.contested_after,
            self._config.drift.overwrite_backoff_s,
        )
        async for page in state_db.pass_pages(self._pool, store.id, self._config.sync.observe_chunk, only):
            wanted = [r for r in page if r.state.sync_enabled]
            observed = await observe(
                [
                    SyncedVariant(store.id, r.state.external_id, r.state.variant_id, r.state.platform_ref)
                    for r in wanted
                ]
            )
            observed, problems = screen(observed)  # values the state cannot hold: per-item problems
            by_id = {o.external_id: o for o in observed}
            now = self._clock()
            decisions = []
            for row in page:
                if row.state.external_id in problems:  # an unreadable store value: reported, not planned
                    plan.verdicts[PROBLEM] += 1
                    continue
                seen = by_id.get(row.state.external_id)
                if needs_no_decision(row.state, seen, store.rules.mode):
                    plan.verdicts[Verdict.IN_SYNC] += 1
                else:
                    decisions.append((row, decide(row.state, seen, settings, now)))
            plan.checked += len(page)
            for row, decision in decisions:
                plan.verdicts[decision.verdict] += 1
                plan.drifted += decision.drift is not None
                if decision.change is not None:
                    plan.changes.append((row, _as_reapply(decision.change) if reapply else decision.change))
                if decision.backoff_after_write is not None:
                    plan.backoff_after[row.state.external_id] = decision.backoff_after_write
            if not dry_run:
                plan.drift_opened += await self._record_observation(
                    store.id, run_id, by_id, decisions, via, problems
                )
        return plan

    async def _record_observation(
        self,
        store_id: str,
        run_id: int | None,
        observed: dict[str, Observed],
        decisions: list[tuple[PassRow, Decision]],
        via: str,
        problems: dict[str, str],
    ) -> int:
        updates = [_state_update(row, d) for row, d in decisions if _state_changed(row, d)]
        drifts = [
            drift_db.DriftToOpen(row.state.external_id, row.state.variant_id, d.drift)
            for row, d in decisions
            if d.drift is not None
        ]
        superseded = [row.state.external_id for row, d in decisions if d.close_drift]
        # a backed-off overwrite is queued for when its back-off ends, or nothing would ever write it
        backed_off = [
            (row.state.external_id, d.overwrite_not_before)
            for row, d in decisions
            if d.verdict is Verdict.BACKOFF and d.overwrite_not_before is not None
        ]
        async with self._pool.acquire() as conn, conn.transaction():
            await state_db.upsert_observed(conn, store_id, list(observed.values()))
            await state_db.record_value_problems(conn, store_id, problems)
            await state_db.record_decisions(conn, store_id, updates)
            await drift_db.close_drift(conn, store_id, superseded, "superseded", "store")
            opened = await drift_db.open_drift(conn, store_id, drifts, via=via, run_id=run_id)
            await work_queue.enqueue_variants_at(
                conn, store_id, backed_off, via if via == "webhook" else "event"
            )
        return opened

    async def _guard_and_apply(
        self,
        store: StoreConfig,
        reconciler: Reconciler,
        plan: _Plan,
        base: PassReport,
        confirm_guard: bool,
        only: Sequence[str] | None,
        holds_store: Callable[[], bool] | None,
    ) -> PassReport:
        counts = RunCounts(
            checked=plan.checked,
            drifted=plan.drifted,
            unknown=plan.verdicts[Verdict.UNKNOWN],
            not_found=plan.verdicts[Verdict.NOT_FOUND],
        )
        skipped = {str(k): v for k, v in plan.verdicts.items() if k not in (Verdict.WRITE, Verdict.IN_SYNC)}
        guarded = await self._guard(store, plan, confirm_guard, only)
        report = replace(
            base,
            counts=counts,
            skipped=skipped,
            writes=tuple(_planned(row, change) for row, change in guarded.write),
            held_writes=tuple(_planned(row, change) for row, change in guarded.held),
            drift_opened=plan.drift_opened,
            held_reason=guarded.reason,
            guard_tripped=guarded.trip is not None and not base.dry_run,
        )
        if base.dry_run:
            return replace(report, outcome="held" if guarded.held else "ok")
        if guarded.holding:
            await self._record_guard(store.id, guarded, only, base.trigger)
        applied = await self._apply(
            store, reconciler, guarded.write, plan.backoff_after, base.run_id, holds_store
        )
        confirmed, failures = applied.confirmed, applied.failures
        if applied.problems:  # cannot be enforced here: reported per item, not failures
            skipped = {**report.skipped, PROBLEM: report.skipped.get(PROBLEM, 0) + len(applied.problems)}
            report = replace(report, skipped=skipped)
        if applied.superseded:  # their own queued items write the newer value
            skipped = {**report.skipped, SUPERSEDED: len(applied.superseded)}
            report = replace(report, skipped=skipped)
        if confirm_guard and only is None and await guard_db.clear(self._pool, store.id):
            get_logger(store_id=store.id).info("guard_confirmed", written=len(confirmed))
        counts = replace(counts, changed=len(confirmed), failed=len(failures))
        outcome = "ok" if not failures else ("partial" if confirmed else "failed")
        # held writes are not failures: the items are done; the confirm pass (or the undo) settles them
        outcome = "held" if guarded.held else outcome
        return replace(report, outcome=outcome, counts=counts, failures=tuple(failures))

    async def _guard(
        self, store: StoreConfig, plan: _Plan, confirm_guard: bool, only: Sequence[str] | None
    ) -> _Guarded:
        """Split the plan into what goes out and what the mass-unavailable guard holds (daemon/guard.py):
        nothing is held when the operator confirms; a store not held yet is held from a pass that trips."""
        if confirm_guard:
            return _Guarded(plan.changes)
        hold = await guard_db.current(self._pool, store.id)
        trip = None
        if hold is None:
            total = plan.checked if only is None else await state_db.count_synced(self._pool, store.id)
            changes = [c for _, c in plan.changes]
            trip = guard_reason(changes, total, self._config.guard.max_unavailable_share)
            if trip is None:
                return _Guarded(plan.changes)
        write, held = _split_while_held(plan.changes, store)
        if hold is None and not held:  # tripped by oversell corrections only: nothing to hold
            return _Guarded(plan.changes)
        reason = guard.held_message(trip or (hold.reason if hold else None), len(held), store.id)
        return _Guarded(write, held, holding=True, trip=trip, reason=reason if held else None)

    async def _record_guard(
        self, store_id: str, guarded: _Guarded, only: Sequence[str] | None, trigger: str
    ) -> None:
        held_ids = [change.external_id for _, change in guarded.held]
        recorded = await guard_db.record_pass(
            self._pool, store_id, trip_reason=guarded.trip, held=held_ids, looked_at=only, trigger=trigger
        )
        log = get_logger(store_id=store_id)
        if guarded.trip is not None:
            log.warning("guard_tripped", reason=guarded.trip, held=len(held_ids))
        elif held_ids:
            log.warning("writes_held_by_guard", held=len(held_ids))
        if recorded is guard_db.Recorded.RELEASED:
            log.info("guard_released", why="no less-sellable write held any more")

    async def _apply(
        self,
        store: StoreConfig,
        reconciler: Reconciler,
        changes: list[tuple[PassRow, Change]],
        backoff_after: dict[str, datetime],
        run_id: int | None,
        holds_store: Callable[[], bool] | None,
    ) -> _Applied:
        """Write in batches packed per write unit (write calls at the per-unit floor); retry temporary
        item failures with back-off. Items the platform cannot enforce are problems, not failures; after
        a refused credential nothing more is sent (every other batch would be refused the same way)."""
        rows = {change.external_id: (row, change) for row, change in changes}
        pending = [change for _, change in changes]
        done = _Applied()
        for attempt in range(self._config.retries.in_pass_attempts):
            if attempt:
                await asyncio.sleep(min(self._config.retries.in_pass_backoff_s * 2 ** (attempt - 1), 30.0))
            retry: list[Change] = []
            batches = list(unit_batches(pending, reconciler.capabilities))
            for index, planned in enumerate(batches):
                if holds_store is not None and not holds_store():
                    raise StoreLockLost(store.id)
                batch = await self._still_wanted(store.id, planned, rows, done)
                if not batch:
                    continue
                ok, failed = await self._apply_batch(store.id, reconciler, batch, rows, backoff_after, run_id)
                done.confirmed += ok
                last_try = attempt == self._config.retries.in_pass_attempts - 1
                for failure in failed:
                    if failure.problem:
                        done.problems.append(failure)
                    elif failure.permanent or last_try:
                        done.failures.append(failure)
                    else:
                        retry.append(rows[failure.external_id][1])
                refused = next((f for f in failed if f.auth), None)
                if refused is not None:
                    unsent = [c for later in batches[index + 1 :] for c in later] + retry
                    done.failures += [
                        ItemFailure(c.external_id, f"not sent: {refused.reason}") for c in unsent
                    ]
                    return done
            if not retry:
                break
            pending = retry
        return done

    async def _still_wanted(
        self,
        store_id: str,
        batch: Sequence[Change],
        rows: dict[str, tuple[PassRow, Change]],
        done: _Applied,
    ) -> list[Change]:
        """The batch's changes whose desired value is still the one they were planned from. A pass plans
        every write before sending any, and sending can take minutes on a rate-limited store: a change
        of upstream in between already queued its own write of the newer value, and the older plan
        must not land after it (an oversell when the event took the stock away)."""
        now = await state_db.desired_now(self._pool, store_id, [c.external_id for c in batch])
        wanted = []
        for change in batch:
            planned = rows[change.external_id][0].state
            if now.get(change.external_id) == (planned.desired, True):
                wanted.append(change)
            else:
                done.superseded.append(change.external_id)
        return wanted

    async def _apply_batch(
        self,
        store_id: str,
        reconciler: Reconciler,
        batch: Sequence[Change],
        rows: dict[str, tuple[PassRow, Change]],
        backoff_after: dict[str, datetime],
        run_id: int | None,
    ) -> tuple[list[Observed], list[ItemFailure]]:
        await state_db.record_intents(self._pool, store_id, batch)  # before the request can land
        try:
            result = await reconciler.apply(batch)
            ok, failed = list(result.confirmed), list(result.failed)
        except TransportError as exc:  # a reconciler should map these itself; never lose the batch
            ok, failed = [], [ItemFailure(c.external_id, str(exc), permanent=False) for c in batch]
        ok, bad = screen([o for o in ok if o.external_id in rows])
        failed += [ItemFailure(ext, reason, permanent=True) for ext, reason in bad.items()]
        problems = {f.external_id: f.reason for f in failed if f.problem}
        applied = [_as_applied(o, rows[o.external_id][1]) for o in ok]
        corrected = [o.external_id for o in ok if rows[o.external_id][1].reason == "drift overwritten"]
        backoffs = [(ext, backoff_after[ext]) for ext in corrected if ext in backoff_after]
        log = [_log_entry(rows[o.external_id], "applied", None) for o in ok]
        log += [
            _log_entry(rows[f.external_id], "rejected" if f.problem else "failed", f.reason)
            for f in failed
            if f.external_id in rows
        ]
        async with self._pool.acquire() as conn, conn.transaction():
            await state_db.record_applied(conn, store_id, applied)
            await state_db.record_failures(
                conn, store_id, [(f.external_id, f.reason) for f in failed if not f.problem]
            )
            await state_db.record_value_problems(conn, store_id, problems)
            await drift_db.close_drift(conn, store_id, corrected, "corrected", "policy")
            await state_db.record_overwrite_backoff(conn, store_id, backoffs)
            await runs_db.log_changes(conn, store_id, run_id, log)
        return ok, failed


def _as_applied(confirmed: Observed, change: Change) -> Observed:
    """What we record as applied: the platform's confirmed value, or our target when it echoes none."""
    if confirmed.available is None:
        return Observed(
            confirmed.external_id, change.target.available, change.target.quantity, confirmed.platform_ref
        )
    return confirmed


def _state_changed(row: PassRow, decision: Decision) -> bool:
    return (
        decision.confirm_applied is not None
        or decision.contested
        or decision.drift_count != row.state.drift_count
        or decision.overwrite_not_before != row.state.overwrite_not_before
    )


def _state_update(row: PassRow, decision: Decision) -> StateUpdate:
    return StateUpdate(
        row.state.external_id,
        decision.drift_count,
        decision.overwrite_not_before,
        decision.contested or row.state.open_drift is DriftAction.CONTESTED,
        decision.confirm_applied is not None,
    )


def _as_reapply(change: Change) -> Change:
    # support's reapply rebased applied on the store's value, so the planner sees a plain difference
    return replace(change, reason=REAPPLY_REASON) if change.reason == "desired changed" else change


def _planned(row: PassRow, change: Change) -> PlannedWrite:
    return PlannedWrite(
        change.external_id, row.state.variant_id, row.sku, change.expected, change.target, change.reason
    )


def _log_entry(item: tuple[PassRow, Change], outcome: str, error: str | None) -> ChangeLogEntry:
    row, change = item
    before = change.expected
    return ChangeLogEntry(
        change.external_id,
        row.state.variant_id,
        before.available if before else None,
        before.quantity if before else None,
        change.target.available,
        change.target.quantity,
        change.reason,
        outcome,
        error,
    )


@dataclass(frozen=True, slots=True)
class _Guarded:
    """The plan after the mass-unavailable guard: what goes out, what is held, and the store's state."""

    write: list[tuple[PassRow, Change]]
    held: list[tuple[PassRow, Change]] = field(default_factory=list)
    holding: bool = False  # the store is held (or this pass tripped it): record what was held
    trip: str | None = None  # this pass tripped the guard, and why
    reason: str | None = None  # the report's held_reason


def _split_while_held(
    changes: list[tuple[PassRow, Change]], store: StoreConfig
) -> tuple[list[tuple[PassRow, Change]], list[tuple[PassRow, Change]]]:
    write: list[tuple[PassRow, Change]] = []
    held: list[tuple[PassRow, Change]] = []
    for row, change in changes:
        allowed = guard.while_held(change, row.state.applied, store.rules.mode)
        if allowed is not None:
            write.append((row, allowed))
        if allowed != change:  # held, or cut down to the applied value: the rest of it is held
            held.append((row, change))
    return write, held
