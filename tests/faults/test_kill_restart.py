"""Fault case 1: `kill -9` of the daemon in the middle of write batches, again and again.

Each round starts a daemon, moves every variant to a new quantity (one signed event batch), waits until
the stores are receiving write batches, waits a random moment more and kills the daemon with SIGKILL.
After the last round a fresh daemon must converge every store to the last accepted quantity with no
event lost, no wrong or stale value written, and no work or lease left behind.
"""

from __future__ import annotations

import asyncio
import random
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from daemon.db.pool import Pool
from tests.e2e.daemon_process import eventually, running_daemon
from tests.e2e.harness import world
from tests.faults.fleet_audit import (
    batches_in_flight,
    batches_requested,
    build_fleet,
    judge,
    kill_9,
    outcome_once_settled,
    post_generation,
    writing_since,
)

STORES, VARIANTS = 4, 40
LATENCY_MS, BATCH_LIMIT = 40, 10  # ~4 write batches per store and pass, each in flight for 40 ms
MAX_EXTRA_DELAY_S = 0.2


@pytest.mark.parametrize(
    "kill_points",
    [pytest.param(3, id="fast"), pytest.param(20, id="full", marks=pytest.mark.faults)],
)
async def test_kill_9_mid_write_batch_loses_and_duplicates_nothing(
    pool: Pool, db_dsn: str, tmp_path: Path, figure: Any, kill_points: int
) -> None:
    started = time.monotonic()
    rng = random.Random(kill_points)  # reproducible kill points
    async with world(pool, tmp_path) as w:
        fleet = await build_fleet(w, STORES, VARIANTS, latency_ms=LATENCY_MS, batch_limit=BATCH_LIMIT)
        in_flight_at_kill = []
        for _ in range(kill_points):
            async with running_daemon(db_dsn, tmp_path, w.credentials_dir, shipped_defaults=True) as daemon:
                before = batches_requested(fleet)
                assert await post_generation(daemon, fleet) == 202
                assert await eventually(partial(writing_since, fleet, before), 30)
                await asyncio.sleep(rng.uniform(0, MAX_EXTRA_DELAY_S))
                in_flight_at_kill.append(batches_in_flight(fleet))
                await kill_9(daemon)

        async with running_daemon(db_dsn, tmp_path, w.credentials_dir, shipped_defaults=True):
            outcome = await outcome_once_settled(pool, fleet)

    figure(
        f"1 kill -9 mid-batch ({kill_points} kills)",
        tried=kill_points,
        kills_with_batch_in_flight=sum(1 for n in in_flight_at_kill if n),
        **outcome.figures(),
        wall_s=round(time.monotonic() - started, 1),
    )
    # the same value written again is harmless here; a different one is a wrong write
    judge(outcome, exactly_once=False)
