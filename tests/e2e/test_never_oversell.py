"""Issue "Never oversell": paths where a store kept selling what upstream says is gone.

Real PostgreSQL, real sandbox stores, the real engine, and the shipped back-off defaults (a case that only
passes with a tuned back-off proves nothing about what users run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon.config import DriftConfig
from daemon.db.pool import Pool
from daemon.model import Observed
from tests.e2e.harness import World, world

IN, OUT = "in_stock", "out_of_stock"
SHIPPED_BACKOFF_S = DriftConfig().overwrite_backoff_s


async def _queued(pool: Pool, store_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT external_id FROM work_queue WHERE store_id = $1 AND status = 'queued' ORDER BY external_id",
        store_id,
    )
    return [r["external_id"] for r in rows]


async def _run_queued(w: World, store_id: str) -> None:
    """What a worker does with the store's ready items: one pass over exactly those variants."""
    only = await w.pool.fetch(
        "UPDATE work_queue SET status = 'done' WHERE store_id = $1 AND status = 'queued' AND not_before <= now()"
        " RETURNING external_id",
        store_id,
    )
    await w.engine.run_pass(store_id, trigger="webhook", only=sorted(r["external_id"] for r in only))


async def test_an_oversell_edit_reported_by_webhook_is_put_back_by_the_queued_pass(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path, drift={"overwrite_backoff_s": SHIPPED_BACKOFF_S}) as w:
        await w.add_store("na", policy="protect")
        await w.variant("tee", stock={"us1": OUT})
        await w.map("na", "E-TEE", "tee", (True, None))
        await w.engine.run_pass("na")
        assert w.shown("na", "E-TEE")[0] is False
        # the merchant makes it sellable again; the store's webhook tells us at once
        await w.control("na", "POST", "/control/edit", {"external_id": "E-TEE", "available": True})
        result = await w.engine.take_notification("na", [Observed("E-TEE", True)])
        assert (result.drift_opened, result.queued) == (1, 1)
        await _run_queued(w, "na")
        assert w.shown("na", "E-TEE")[0] is False, "the correction decided from the webhook was never written"
        status = await pool.fetchval("SELECT status FROM drift_records")
        assert status == "corrected"


async def test_a_variant_drifting_again_and_again_backs_off_then_ends_contested(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(
        pool, tmp_path, drift={"overwrite_backoff_s": SHIPPED_BACKOFF_S, "contested_after": 3}
    ) as w:
        await w.add_store("na", policy="protect")
        await w.variant("tee", stock={"us1": OUT})
        await w.map("na", "E-TEE", "tee", (True, None))
        await w.engine.run_pass("na")
        written = len(w.writes("na"))
        # first edit: put back at once
        await w.control("na", "POST", "/control/edit", {"external_id": "E-TEE", "available": True})
        await w.engine.take_notification("na", [Observed("E-TEE", True)])
        await _run_queued(w, "na")
        assert w.shown("na", "E-TEE")[0] is False and len(w.writes("na")) == written + 1
        # the other writer does it again at once: the overwrite now waits for the back-off ...
        await w.control("na", "POST", "/control/edit", {"external_id": "E-TEE", "available": True})
        again = await w.engine.take_notification("na", [Observed("E-TEE", True)])
        assert again.queued == 0
        not_before = await pool.fetchval("SELECT not_before FROM work_queue WHERE status = 'queued'")
        backoff = await pool.fetchval("SELECT overwrite_not_before FROM store_state")
        assert not_before is not None and not_before == backoff  # ... and is queued for when it ends
        await w.engine.run_pass("na")
        assert w.shown("na", "E-TEE")[0] is True and len(w.writes("na")) == written + 1
        # once the back-off has passed, the queued item puts it back
        await pool.execute("UPDATE store_state SET overwrite_not_before = now() - interval '1 second'")
        await pool.execute("UPDATE work_queue SET not_before = now() WHERE status = 'queued'")
        await _run_queued(w, "na")
        assert w.shown("na", "E-TEE")[0] is False and len(w.writes("na")) == written + 2
        # a third drift reaches drift.contested_after: reported, never overwritten again
        await w.control("na", "POST", "/control/edit", {"external_id": "E-TEE", "available": True})
        await w.engine.take_notification("na", [Observed("E-TEE", True)])
        await pool.execute("UPDATE store_state SET overwrite_not_before = now() - interval '1 second'")
        await w.engine.run_pass("na")
        assert w.shown("na", "E-TEE")[0] is True and len(w.writes("na")) == written + 2
        assert await pool.fetchval("SELECT action FROM drift_records WHERE status = 'open'") == "contested"


async def test_a_write_planned_before_an_upstream_change_is_not_sent_stale(
    pool: Pool, tmp_path: Path
) -> None:
    """A long pass plans every write first and sends them afterwards (minutes on a rate-limited
    store): an event that lands in between must not be overwritten by the plan made before it."""
    async with world(pool, tmp_path) as w:
        await w.add_store("na", batch_limit=1)
        for name in ("a", "b"):
            await w.variant(name, stock={"us1": IN})
            await w.map("na", f"E-{name.upper()}", name, (False, None))
        real = w.engine.reconciler_for

        def upstream_changes_during_the_first_write(store: Any) -> Any:
            reconciler = real(store)
            apply = reconciler.apply

            async def apply_then_event(changes: Any) -> Any:
                result = await apply(changes)
                await w.set_stock("b", {"us1": OUT})  # an event lands while the pass is writing
                return result

            reconciler.apply = apply_then_event  # type: ignore[method-assign]
            return reconciler

        w.engine.reconciler_for = upstream_changes_during_the_first_write  # type: ignore[method-assign]
        report = await w.engine.run_pass("na")
        assert w.shown("na", "E-A")[0] is True
        assert w.shown("na", "E-B")[0] is False, "wrote B sellable from a plan older than the event"
        assert report.skipped.get("superseded") == 1
