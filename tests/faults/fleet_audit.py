"""Shared by the daemon fault cases: quantity-mode sandbox stores whose desired value moves one
generation at a time, and the audits that say what a fault lost, duplicated or left behind.

Every generation sets every variant to a quantity no other generation uses, so a value written to a
store names the generation it belongs to: a write of a value never desired, or of an older one after a
newer one, is a wrong write; the same value written again is a duplicate.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from daemon.db.pool import Pool
from tests.e2e.daemon_process import Daemon, eventually
from tests.e2e.harness import World

FACILITY = "us1"
BATCH_ROUTE = "POST /api/items/batch"
FIRST_QUANTITY = 1


@dataclass
class Fleet:
    world: World
    stores: list[str]
    variants: list[str]
    attempts: int = 0  # generations posted, accepted or not (each gets its own quantity)
    desired_history: list[int] = field(default_factory=lambda: [FIRST_QUANTITY])  # accepted only
    accepted: list[str] = field(default_factory=list)  # event ids answered 202
    refused: list[str] = field(default_factory=list)  # event ids answered anything else
    posted_at: dict[int, float] = field(default_factory=dict)  # accepted quantity -> wall time sent

    @property
    def desired(self) -> int:
        return self.desired_history[-1]

    def items(self) -> list[tuple[str, str]]:
        return [(store, f"{store}-{variant}") for store in self.stores for variant in self.variants]


async def build_fleet(
    w: World, stores: int, variants: int, *, latency_ms: int, batch_limit: int, prefix: str = "s"
) -> Fleet:
    """Stores in quantity mode that show the first generation already (nothing to write at start)."""
    fleet = Fleet(w, [f"{prefix}{i:02d}" for i in range(stores)], [f"v{i:03d}" for i in range(variants)])
    for variant in fleet.variants:
        await w.variant(variant, kind="warehouse", stock={FACILITY: ("in_stock", FIRST_QUANTITY)})
    for store in fleet.stores:
        await w.add_store(
            store, mode="quantity", policy="protect", latency_ms=latency_ms, batch_limit=batch_limit
        )
        for variant in fleet.variants:
            await w.map(store, f"{store}-{variant}", variant, (True, FIRST_QUANTITY))
    return fleet


def _generation_events(fleet: Fleet, quantity: int) -> list[dict[str, Any]]:
    occurred = datetime.now(UTC).isoformat()  # later than every earlier generation's events
    return [
        {
            "event_id": f"g{fleet.attempts}-{variant}",
            "variant_id": variant,
            "facility_id": FACILITY,
            "status": "in_stock",
            "quantity": quantity,
            "occurred_at": occurred,
        }
        for variant in fleet.variants
    ]


async def post_generation(daemon: Daemon, fleet: Fleet) -> int:
    """Move every variant to a new quantity through one signed event batch; the HTTP status (0 when
    the daemon could not be reached). Only a 202 makes the generation desired."""
    fleet.attempts += 1
    quantity = FIRST_QUANTITY + fleet.attempts
    events = _generation_events(fleet, quantity)
    ids = [e["event_id"] for e in events]
    sent = time.time()  # the sandbox stamps writes with wall time too
    try:
        status, _ = await daemon.post_events(events)
    except (aiohttp.ClientError, TimeoutError):
        status = 0
    if status == 202:
        fleet.accepted += ids
        fleet.desired_history.append(quantity)
        fleet.posted_at[quantity] = sent
    else:
        fleet.refused += ids
    return status


def batches_requested(fleet: Fleet) -> int:
    return sum(s.stats.requests.get(BATCH_ROUTE, 0) for s in fleet.world.sandboxes.values())


async def writing_since(fleet: Fleet, requested_before: int) -> bool:
    await asyncio.sleep(0)
    return batches_requested(fleet) > requested_before


def batches_in_flight(fleet: Fleet) -> int:
    """Write batches a store has received but not answered yet (they complete even if the caller dies)."""
    return sum(
        s.stats.requests.get(BATCH_ROUTE, 0) - s.stats.write_batches for s in fleet.world.sandboxes.values()
    )


async def writing_now(fleet: Fleet) -> bool:
    await asyncio.sleep(0)
    return batches_in_flight(fleet) > 0


async def converged(fleet: Fleet) -> bool:
    await asyncio.sleep(0)
    want = (True, fleet.desired)
    return all(fleet.world.shown(store, ext) == want for store, ext in fleet.items())


@dataclass(frozen=True)
class WriteAudit:
    writes: int
    wrong_value: int  # a value never desired, or an older generation's after a newer one was written
    duplicated: int  # a generation's value written again to the same item
    not_converged: int  # items not showing the last desired value


def audit_writes(fleet: Fleet) -> WriteAudit:
    generation_of = {quantity: g for g, quantity in enumerate(fleet.desired_history)}
    writes = wrong = duplicated = 0
    for store in fleet.stores:
        by_item: dict[str, list[int | None]] = {}
        for record in fleet.world.sandboxes[store].write_log:
            by_item.setdefault(record.external_id, []).append(record.quantity)
        for values in by_item.values():
            writes += len(values)
            wrong += _wrong_writes(values, generation_of)
            duplicated += sum(n - 1 for n in Counter(values).values())
    want = (True, fleet.desired)
    not_converged = sum(fleet.world.shown(store, ext) != want for store, ext in fleet.items())
    return WriteAudit(writes, wrong, duplicated, not_converged)


def _wrong_writes(values: list[int | None], generation_of: dict[int, int]) -> int:
    wrong, newest = 0, 0
    for value in values:
        generation = generation_of.get(value) if value is not None else None
        if generation is None or generation < newest:
            wrong += 1
        else:
            newest = generation
    return wrong


def event_to_write_s(fleet: Fleet) -> list[float]:
    """Per accepted change and item: from sending the event to the store showing that generation or a
    newer one (a generation overtaken before it was written is served by the newer write)."""
    delays = []
    for store, ext in fleet.items():
        writes = sorted(
            (r.at, r.quantity or 0) for r in fleet.world.sandboxes[store].write_log if r.external_id == ext
        )
        for quantity, sent in fleet.posted_at.items():
            shown_at = next((at for at, written in writes if written >= quantity and at >= sent), None)
            if shown_at is not None:
                delays.append(shown_at - sent)
    return sorted(delays)


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))] if values else 0.0


async def lost_events(pool: Pool, fleet: Fleet) -> int:
    """Accepted events missing from the inbox, plus variants whose stock is not the last accepted value."""
    stored = await pool.fetchval(
        "SELECT count(*) FROM inbox_events WHERE event_id = ANY ($1)", fleet.accepted
    )
    stale = await pool.fetchval(
        "SELECT count(*) FROM facility_stock WHERE facility_id = $1 AND quantity IS DISTINCT FROM $2",
        FACILITY,
        fleet.desired,
    )
    return len(fleet.accepted) - int(stored) + int(stale)


async def refused_but_stored(pool: Pool, fleet: Fleet) -> int:
    return int(
        await pool.fetchval("SELECT count(*) FROM inbox_events WHERE event_id = ANY ($1)", fleet.refused)
    )


@dataclass(frozen=True)
class Leftovers:
    queued: int
    running: int
    failed: int
    live_leases: int

    @property
    def none(self) -> bool:
        return self == Leftovers(0, 0, 0, 0)


async def leftovers(pool: Pool) -> Leftovers:
    """Work the queue still holds and store locks still held (after convergence: all must be 0)."""
    row = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'queued') AS queued,"
        " count(*) FILTER (WHERE status = 'running') AS running,"
        " count(*) FILTER (WHERE status = 'failed') AS failed,"
        " (SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
        "   WHERE l.locktype = 'advisory' AND l.classid = 7301 AND d.datname = current_database())"
        "   AS live_leases"
        " FROM work_queue"
    )
    assert row is not None
    return Leftovers(row["queued"], row["running"], row["failed"], row["live_leases"])


async def settled(pool: Pool) -> bool:
    return (await leftovers(pool)).none


async def kill_9(daemon: Daemon) -> None:
    daemon.process.send_signal(signal.SIGKILL)
    await daemon.process.wait()


# The daemon records a write as applied only after the store answered. Killed (or cut off from the
# database) in between, the write lands unrecorded; before write intents (migration 0003) the next pass
# took it for a merchant's edit once desired moved on and held it as drift for good. Counted apart so a
# regression names itself.


async def own_writes_held_as_drift(pool: Pool, fleet: Fleet) -> int:
    """Unconverged items that show our own last write and carry an open drift record for it."""
    last_written: dict[str, int | None] = {}
    for store in fleet.stores:
        for record in fleet.world.sandboxes[store].write_log:
            last_written[record.external_id] = record.quantity
    want = (True, fleet.desired)
    suspects = [
        ext
        for store, ext in fleet.items()
        if fleet.world.shown(store, ext) != want
        and ext in last_written
        and fleet.world.shown(store, ext) == (True, last_written[ext])
    ]
    held = await pool.fetch(
        "SELECT external_id, store_quantity FROM drift_records WHERE status = 'open' AND external_id = ANY ($1)",
        suspects,
    )
    return sum(1 for r in held if r["store_quantity"] == last_written[r["external_id"]])


async def diagnosis(pool: Pool, fleet: Fleet) -> str:
    """What the database says about items that did not converge (for a failing assertion's message)."""
    want = (True, fleet.desired)
    stuck = [ext for store, ext in fleet.items() if fleet.world.shown(store, ext) != want][:5]
    state = await pool.fetch(
        "SELECT st.external_id, applied_quantity, observed_quantity, dr.action, dr.status"
        " FROM store_state st LEFT JOIN drift_records dr USING (store_id, external_id)"
        " WHERE st.external_id = ANY ($1)",
        stuck,
    )
    queue = await pool.fetch(
        "SELECT store_id, kind, external_id, status, attempts, last_error FROM work_queue"
        " WHERE status <> 'done' ORDER BY id LIMIT 10"
    )
    shown = {ext: fleet.world.shown(ext.split("-")[0], ext) for ext in stuck}
    return f"desired={fleet.desired} shown={shown}\nstate={[dict(r) for r in state]}\nqueue={[dict(r) for r in queue]}"


@dataclass(frozen=True)
class Outcome:
    """Everything a fault case reports and judges once the daemons have done all they will do."""

    events_accepted: int
    audit: WriteAudit
    lost: int
    left: Leftovers
    own_writes_held: int
    diagnosis: str
    latencies: list[float] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {
            "events_accepted": self.events_accepted,
            "writes": self.audit.writes,
            "lost": self.lost,
            "wrong_value": self.audit.wrong_value,
            "duplicated": self.audit.duplicated,
            "not_converged": self.audit.not_converged,
            "own_write_held_as_drift": self.own_writes_held,
            "stuck": self.left.queued + self.left.running + self.left.failed + self.left.live_leases,
            "event_to_write_p50_s": round(percentile(self.latencies, 0.5), 2),
            "event_to_write_p99_s": round(percentile(self.latencies, 0.99), 2),
            "event_to_write_max_s": round(max(self.latencies, default=0.0), 2),
        }


async def outcome_once_settled(pool: Pool, fleet: Fleet, timeout_s: float = 90) -> Outcome:
    """Wait until the queue is empty and no lease is live (all work finished or given up: nothing more
    will happen), give the stores a moment to converge, then measure."""
    assert await eventually(lambda: settled(pool), timeout_s), await leftovers(pool)
    await eventually(lambda: converged(fleet), 5)
    return Outcome(
        len(fleet.accepted),
        audit_writes(fleet),
        await lost_events(pool, fleet),
        await leftovers(pool),
        await own_writes_held_as_drift(pool, fleet),
        await diagnosis(pool, fleet),
        event_to_write_s(fleet),
    )


def judge(outcome: Outcome, *, exactly_once: bool) -> None:
    """Lost events, wrong or stale values, unconverged items and leftover work always fail; a duplicate
    (the same value written again) fails where each change must take effect exactly once."""
    assert (outcome.lost, outcome.audit.wrong_value) == (0, 0), outcome.audit
    if exactly_once:
        assert outcome.audit.duplicated == 0, outcome.audit
    assert outcome.left.none, outcome.left
    assert outcome.audit.not_converged == 0, (
        f"{outcome.own_writes_held} of them our own unrecorded writes held as drift\n{outcome.diagnosis}"
    )
