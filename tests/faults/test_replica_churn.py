"""Fault case 7: three replicas on one database, one killed (-9) and restarted every few seconds under
a steady stream of stock events.

An event poster moves every variant to a new quantity every EVENT_INTERVAL_S through a live replica;
a churner kills the replicas in turn every CHURN_INTERVAL_S and starts a fresh one in its place. The
two take turns on a lock so that no event batch is in flight at the replica being killed: every post
has a definite answer, and only a 202 makes a generation desired. Afterwards each change must have
taken effect exactly once per item (no value written twice, none wrong or stale), no accepted event
may be lost, every store must converge, and no work or lease may be left behind.
"""

from __future__ import annotations

import asyncio
import random
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from daemon.db.pool import Pool
from tests.e2e.daemon_process import Daemon, eventually, running_daemon
from tests.e2e.harness import world
from tests.faults.fleet_audit import (
    Fleet,
    batches_in_flight,
    build_fleet,
    judge,
    kill_9,
    outcome_once_settled,
    post_generation,
    writing_now,
)

REPLICAS, STORES, VARIANTS = 3, 8, 20
LATENCY_MS, BATCH_LIMIT = 30, 5  # several write batches per store and pass, so kills land mid-work
EVENT_INTERVAL_S = 0.5
CHURN_INTERVAL_S = (3.0, 7.0)  # a kill every 3 to 7 s


@dataclass
class Replicas:
    """The live replicas, each with the exit stack that owns its process."""

    dsn: str
    workdir: Path
    credentials: Path
    live: list[tuple[Daemon, AsyncExitStack]] = field(default_factory=list)
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)  # a post or a kill, never both at once
    kills: int = 0
    kills_with_batch_in_flight: int = 0

    async def start_one(self) -> None:
        stack = AsyncExitStack()
        daemon = await stack.enter_async_context(
            running_daemon(self.dsn, self.workdir, self.credentials, shipped_defaults=True)
        )
        self.live.append((daemon, stack))

    async def kill_oldest(self, fleet: Fleet) -> None:
        """Kill -9 the oldest replica, as soon as a store is receiving a write batch (mid-work)."""
        await eventually(lambda: writing_now(fleet), EVENT_INTERVAL_S * 4, interval_s=0.002)
        async with self.turn:
            daemon, stack = self.live.pop(0)
            self.kills_with_batch_in_flight += batches_in_flight(fleet) > 0
            await kill_9(daemon)
            self.kills += 1
        await stack.aclose()

    async def close(self) -> None:
        for _, stack in self.live:
            await stack.aclose()
        self.live.clear()


async def post_events_until(replicas: Replicas, fleet: Fleet, stop_at: float, rng: random.Random) -> int:
    """Posts one generation per EVENT_INTERVAL_S through a random live replica; returns the non-202s."""
    refused = 0
    while time.monotonic() < stop_at:
        async with replicas.turn:
            daemon, _ = rng.choice(replicas.live)
            refused += await post_generation(daemon, fleet) != 202
        await asyncio.sleep(EVENT_INTERVAL_S)
    return refused


async def churn_until(replicas: Replicas, fleet: Fleet, stop_at: float, rng: random.Random) -> None:
    while time.monotonic() + CHURN_INTERVAL_S[0] < stop_at:
        await asyncio.sleep(rng.uniform(*CHURN_INTERVAL_S))
        await replicas.kill_oldest(fleet)
        await replicas.start_one()


@pytest.mark.parametrize(
    "churn_s",
    [pytest.param(15.0, id="fast"), pytest.param(60.0, id="full", marks=pytest.mark.faults)],
)
async def test_replica_churn_under_event_load_takes_each_change_once(
    pool: Pool, db_dsn: str, tmp_path: Path, figure: Any, churn_s: float
) -> None:
    started = time.monotonic()
    async with world(pool, tmp_path) as w:
        fleet = await build_fleet(w, STORES, VARIANTS, latency_ms=LATENCY_MS, batch_limit=BATCH_LIMIT)
        replicas = Replicas(db_dsn, tmp_path, w.credentials_dir)
        try:
            for _ in range(REPLICAS):
                await replicas.start_one()
            stop_at = time.monotonic() + churn_s
            refused, _ = await asyncio.gather(
                post_events_until(replicas, fleet, stop_at, random.Random(int(churn_s))),
                churn_until(replicas, fleet, stop_at, random.Random(int(churn_s) + 1)),
            )
            outcome = await outcome_once_settled(pool, fleet)
        finally:
            await replicas.close()

    figure(
        f"7 replica churn ({churn_s:g} s)",
        replicas=REPLICAS,
        kills=replicas.kills,
        kills_with_batch_in_flight=replicas.kills_with_batch_in_flight,
        events_refused=refused,
        **outcome.figures(),
        wall_s=round(time.monotonic() - started, 1),
    )
    assert refused == 0  # every post went to a live, ready replica
    judge(outcome, exactly_once=True)
