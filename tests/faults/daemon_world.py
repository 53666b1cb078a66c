"""Shared by the fault cases that run the real daemon: a catalog on sandbox stores, metrics, the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from daemon.db.pool import Pool
from tests.e2e.daemon_process import STOCKSYNC, Daemon, eventually
from tests.e2e.harness import World

IN, OUT = "in_stock", "out_of_stock"
FACILITIES = ("us1", "lv1")  # every variant is carried by one North American and one European facility


def variant_ids(count: int) -> list[str]:
    return [f"v{i:04d}" for i in range(count)]


async def catalog(
    w: World, stores: dict[str, str], variants: int, in_stock: Callable[[int], bool] = lambda i: True
) -> list[str]:
    """Stores on sandboxes, each syncing every variant; variant i in stock (and shown so) if in_stock(i)."""
    for store_id, region in stores.items():
        await w.add_store(store_id, region=region)
    ids = variant_ids(variants)
    for i, variant_id in enumerate(ids):
        await w.variant(variant_id, stock=dict.fromkeys(FACILITIES, IN if in_stock(i) else OUT))
    for store_id in stores:
        await w.pool.executemany(
            "INSERT INTO synced_variants (store_id, external_id, variant_id) VALUES ($1, $2, $3)",
            [(store_id, f"E-{v}", v) for v in ids],
        )
        items = [
            {"external_id": f"E-{v}", "available": in_stock(i), "quantity": None} for i, v in enumerate(ids)
        ]
        await w.control(store_id, "POST", "/control/items", {"items": items})
    return ids


async def at_least(pool: Pool, sql: str, count: int) -> bool:
    return int(await pool.fetchval(sql)) >= count


async def first_passes_done(pool: Pool, stores: int) -> None:
    """Every store's first periodic pass succeeded (nothing to write); later ones are kept away."""
    done = "SELECT count(DISTINCT store_id) FROM sync_runs WHERE trigger = 'periodic' AND outcome = 'ok'"
    assert await eventually(lambda: at_least(pool, done, stores), 30)
    await pool.execute("UPDATE store_schedule SET next_pass_at = now() + interval '1 day'")


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def scrape(daemon: Daemon) -> str:
    status, text = await daemon.get("/metrics")
    assert status == 200
    return text


async def cli(daemon: Daemon, *args: str) -> tuple[int, str]:
    """Run `stocksync ARGS` against the daemon's database and credentials: (exit status, output)."""
    process = await asyncio.create_subprocess_exec(
        STOCKSYNC, *args, env=daemon.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")
