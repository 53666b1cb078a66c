"""Fault case 3: one store's platform answers 429, 5xx, malformed JSON, hangs past the client timeout and
resets connections, while upstream events keep arriving for it and for a healthy store.

Measured: event → write latency of both stores (event posted to the running daemon until the sandbox's
write log shows the write), before and during the faults. Required: the failing store gets no request
before a 429's Retry-After has passed, its circuit opens (`stocksync_circuit_open{store_id} 1`), the
healthy store's latency stays low, and once the faults clear the failing store converges.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.db.pool import Pool
from sandbox_store.server import SandboxStore
from tests.e2e.daemon_process import Daemon, eventually, running_daemon
from tests.e2e.harness import World, world
from tests.faults.daemon_world import IN, OUT, catalog, first_passes_done, metric, scrape, variant_ids

GOOD, BAD = "good", "bad"
DAEMON_RETRIES: dict[str, Any] = {
    "circuit_open_after": 3,
    "circuit_backoff_s": 2,
    "queued_backoff_s": 0.2,
    "queued_attempts": 100,  # a queued item outlives the outage instead of being given up
}
CLIENT_TIMEOUT = {"STOCKSYNC_HTTP__CLIENT_TIMEOUT_S": "1"}  # a hang costs one second, not thirty
# one kind at a time, each consumed by the daemon's requests before the next is set
FAULT_KINDS: dict[str, dict[str, Any]] = {
    "429": {"next_statuses": [429, 429, 429]},
    "5xx": {"next_statuses": [500, 502, 503]},
    "malformed": {"malformed_next": 2},
    "hang": {"hang_next": 2},
    "reset": {"reset_next": 4},  # aiohttp repeats an idempotent request once after a reset
}
RETRY_AFTER_SLACK_S = 0.01  # timer granularity; the store stamps arrival before it answers


@dataclass
class Sent:
    external_id: str
    available: bool
    at: float  # time.time(), the clock the sandbox stamps writes with
    phase: str


@dataclass
class EventStream:
    """One upstream event per tick, each flipping a different variant (odd ones come back in stock)."""

    daemon: Daemon
    variants: list[str]
    interval_s: float
    phase: str = "baseline"
    sent: list[Sent] = field(default_factory=list)

    async def run(self) -> None:
        for i, variant_id in enumerate(self.variants):
            available = i % 2 == 1
            event = {
                "event_id": f"flip-{variant_id}",
                "variant_id": variant_id,
                "facility_id": "us1",
                "status": IN if available else OUT,
                "quantity": None,
                "occurred_at": datetime.now(UTC).isoformat(),
            }
            at = time.time()
            status, body = await self.daemon.post_events([event])
            assert status == 202, body
            self.sent.append(Sent(f"E-{variant_id}", available, at, self.phase))
            await asyncio.sleep(self.interval_s)


def starts_in_stock(i: int) -> bool:
    return i % 2 == 0  # the opposite of what the stream sends, so every event is a write


def latencies(sandbox: SandboxStore, sent: list[Sent], phase: str | None = None) -> list[float]:
    """Per event, seconds until the store's write log shows that item written with the new value."""
    found = []
    for event in sent:
        if phase is not None and event.phase != phase:
            continue
        writes = [
            w.at
            for w in sandbox.write_log
            if w.external_id == event.external_id and w.available == event.available and w.at >= event.at
        ]
        found.append(min(writes) - event.at if writes else math.inf)
    return found


def p99_ms(values: list[float]) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)], 1)


def retry_after_gaps(sandbox: SandboxStore) -> list[float]:
    """For every 429 the store sent: seconds from it to the next request, minus its Retry-After."""
    calls = sorted(sandbox.stats.calls, key=lambda c: c.at)
    return [
        later.at - call.at - call.retry_after_s
        for call, later in zip(calls, calls[1:], strict=False)
        if call.status == 429 and call.retry_after_s is not None
    ]


async def circuit_open(daemon: Daemon, store_id: str) -> bool:
    return metric(await scrape(daemon), "stocksync_circuit_open", store_id=store_id) == 1


async def set_faults(w: World, faults: dict[str, Any]) -> None:
    await w.control(BAD, "POST", "/control/faults", faults)


async def all_written(w: World, sent: list[Sent]) -> bool:
    return all(math.isfinite(x) for x in latencies(w.sandboxes[BAD], sent))


def consumed(sandbox: SandboxStore) -> Callable[[], Any]:
    async def check() -> bool:
        f = sandbox.faults
        return not (f.next_statuses or f.malformed_next or f.hang_next or f.reset_next)

    return check


async def drive_faults(
    w: World, daemon: Daemon, stream: EventStream, baseline_s: float, outage_s: float, cycles: int
) -> dict[str, int]:
    """Baseline; every fault kind in turn (cycles times); a sustained outage until the circuit opens
    and outage_s more; then the faults clear. Returns how many of each kind the daemon met."""
    await asyncio.sleep(baseline_s)
    stream.phase = "faults"
    met: dict[str, int] = {}
    for _ in range(cycles):
        for kind, faults in FAULT_KINDS.items():
            await set_faults(w, faults)
            assert await eventually(consumed(w.sandboxes[BAD]), 60), f"{kind} faults were never consumed"
            met[kind] = met.get(kind, 0) + sum(len(v) if isinstance(v, list) else v for v in faults.values())
    await set_faults(w, {"next_statuses": [500] * 10_000})
    assert await eventually(lambda: circuit_open(daemon, BAD), 60, 0.05), (
        "the failing store's circuit never opened"
    )
    assert not await circuit_open(daemon, GOOD)
    await asyncio.sleep(outage_s)
    await w.control(BAD, "DELETE", "/control/faults")
    stream.phase = "recovered"
    return met


async def run_case(
    pool: Pool,
    db_dsn: str,
    tmp_path: Path,
    *,
    events: int,
    interval_s: float,
    baseline_s: float,
    outage_s: float,
    cycles: int = 1,
) -> dict[str, Any]:
    async with world(pool, tmp_path) as w:
        await catalog(w, {GOOD: "north_america", BAD: "north_america"}, 3 * events, starts_in_stock)
        async with running_daemon(
            db_dsn, tmp_path, w.credentials_dir, extra_env=CLIENT_TIMEOUT, retries=DAEMON_RETRIES
        ) as daemon:
            await first_passes_done(pool, 2)
            stream = EventStream(daemon, variant_ids(events), interval_s)
            streaming = asyncio.create_task(stream.run())
            met = await drive_faults(w, daemon, stream, baseline_s, outage_s, cycles)
            await streaming
            assert await eventually(lambda: all_written(w, stream.sent), 60), (
                "the failing store did not converge"
            )
            assert all(w.shown(BAD, e.external_id) == w.shown(GOOD, e.external_id) for e in stream.sent)
            gaps = retry_after_gaps(w.sandboxes[BAD])
            good, bad = w.sandboxes[GOOD], w.sandboxes[BAD]
            assert all(math.isfinite(x) for x in latencies(good, stream.sent))
            return {
                "events": len(stream.sent),
                "faults_injected": bad.stats.faults_injected,
                **{f"met_{kind}": count for kind, count in met.items()},
                "requests_to_failing_store": len(bad.stats.calls),
                "retry_after_seen": len(gaps),
                "retry_after_violations": sum(g < -RETRY_AFTER_SLACK_S for g in gaps),
                "min_retry_after_margin_ms": round(1000 * min(gaps), 1) if gaps else None,
                "healthy_p99_ms_baseline": p99_ms(latencies(good, stream.sent, "baseline")),
                "healthy_p99_ms_during_faults": p99_ms(latencies(good, stream.sent, "faults")),
                "failing_p99_ms_during_faults": p99_ms(latencies(bad, stream.sent, "faults")),
                "failing_p99_ms_baseline": p99_ms(latencies(bad, stream.sent, "baseline")),
                "lost_writes": 0,
            }


def check(figures: dict[str, Any]) -> None:
    assert figures["faults_injected"] > 0 and figures["retry_after_seen"] > 0
    assert figures["retry_after_violations"] == 0
    # the healthy store does not wait for the failing one (one worker each; LISTEN/NOTIFY wakes them)
    assert figures["healthy_p99_ms_during_faults"] < max(1000, 3 * figures["healthy_p99_ms_baseline"])


async def test_a_failing_platform_backs_off_opens_its_circuit_and_spares_the_healthy_store(
    pool: Pool, db_dsn: str, tmp_path: Path, figure: Callable[..., None]
) -> None:
    figures = await run_case(pool, db_dsn, tmp_path, events=60, interval_s=0.2, baseline_s=2, outage_s=1)
    figure("3 platform faults", **figures)
    check(figures)


@pytest.mark.faults
@pytest.mark.timeout(280)
async def test_a_failing_platform_backs_off_opens_its_circuit_and_spares_the_healthy_store_full(
    pool: Pool, db_dsn: str, tmp_path: Path, figure: Callable[..., None]
) -> None:
    figures = await run_case(
        pool, db_dsn, tmp_path, events=300, interval_s=0.1, baseline_s=5, outage_s=5, cycles=2
    )
    figure("3 platform faults (full)", **figures)
    check(figures)
