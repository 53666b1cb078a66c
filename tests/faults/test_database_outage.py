"""Fault case 2: PostgreSQL stopped in the middle of a pass, kept down, then started again.

The daemon runs against a private embedded server (never the session's or the machine's). While write
batches are in flight the server is stopped with `pg_ctl stop -m fast`; during the outage /readyz and
the webhook are probed every PROBE_INTERVAL_S: readiness must say 503, and every event batch must be
refused with 503 (nothing accepted that is not stored). After the restart the same daemon process must
reconnect by itself, accept a new generation and converge every store, with nothing lost.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

from daemon.config import DatabaseConfig
from daemon.db.pool import create_pool
from tests.e2e.daemon_process import Daemon, eventually, running_daemon
from tests.e2e.harness import world
from tests.faults.fleet_audit import (
    Fleet,
    batches_requested,
    build_fleet,
    judge,
    outcome_once_settled,
    post_generation,
    refused_but_stored,
    writing_since,
)
from tests.faults.stoppable_postgres import stoppable_postgres

STORES, VARIANTS = 4, 40
LATENCY_MS, BATCH_LIMIT = 40, 10
PROBE_INTERVAL_S = 0.5


@dataclass
class OutageProbes:
    readyz: int = 0
    readyz_not_503: int = 0
    webhooks: int = 0
    webhooks_accepted: int = 0  # 202 while the database was down: an event acknowledged, not stored
    webhooks_not_503: int = 0


async def probe_while_down(daemon: Daemon, fleet: Fleet, outage_s: float) -> OutageProbes:
    probes = OutageProbes()
    deadline = time.monotonic() + outage_s
    while time.monotonic() < deadline:
        status, _ = await daemon.get("/readyz")
        probes.readyz += 1
        probes.readyz_not_503 += status != 503
        status = await post_generation(daemon, fleet)
        probes.webhooks += 1
        probes.webhooks_accepted += status == 202
        probes.webhooks_not_503 += status != 503
        await asyncio.sleep(PROBE_INTERVAL_S)
    return probes


async def ready(daemon: Daemon) -> bool:
    status, _ = await daemon.get("/readyz")
    return status == 200


@pytest.mark.parametrize(
    "outage_s",
    [pytest.param(5.0, id="fast"), pytest.param(30.0, id="full", marks=pytest.mark.faults)],
)
async def test_database_outage_refuses_events_and_recovers_without_loss(
    tmp_path: Path, figure: Any, outage_s: float
) -> None:
    started = time.monotonic()
    async with stoppable_postgres() as pg:
        pool = await create_pool(pg.dsn, DatabaseConfig(dsn=pg.dsn, pool_min=1, pool_max=5))
        try:
            async with world(pool, tmp_path) as w:
                fleet = await build_fleet(w, STORES, VARIANTS, latency_ms=LATENCY_MS, batch_limit=BATCH_LIMIT)
                async with running_daemon(pg.dsn, tmp_path, w.credentials_dir, sync={"workers": 4}) as daemon:
                    before = batches_requested(fleet)
                    assert await post_generation(daemon, fleet) == 202
                    assert await eventually(partial(writing_since, fleet, before), 30)
                    await anyio.to_thread.run_sync(pg.stop_server)  # mid-pass: write batches in flight
                    probes = await probe_while_down(daemon, fleet, outage_s)
                    await anyio.to_thread.run_sync(pg.restart_server)
                    recovery_started = time.monotonic()
                    assert await eventually(partial(ready, daemon), 30), await daemon.get("/readyz")
                    assert await post_generation(daemon, fleet) == 202
                    outcome = await outcome_once_settled(pool, fleet)
                    recovered_s = time.monotonic() - recovery_started
                    same_process = daemon.process.returncode is None
                stored_refusals = await refused_but_stored(pool, fleet)
        finally:
            await pool.close()

    figure(
        f"2 database outage ({outage_s:g} s)",
        outage_s=outage_s,
        readyz_probes=probes.readyz,
        readyz_not_503=probes.readyz_not_503,
        webhook_probes=probes.webhooks,
        webhooks_accepted_while_down=probes.webhooks_accepted,
        refused_but_stored=stored_refusals,
        **outcome.figures(),
        reconnected_same_process=same_process,
        settled_after_restart_s=round(recovered_s, 1),
        wall_s=round(time.monotonic() - started, 1),
    )
    assert (probes.readyz_not_503, probes.webhooks_not_503, stored_refusals) == (0, 0, 0), probes
    assert same_process, "the daemon had to be restarted to recover"
    judge(outcome, exactly_once=False)
