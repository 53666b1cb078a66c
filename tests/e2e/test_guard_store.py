"""The mass-unavailable guard holds the store, not one pass (issue 13, path 4).

Real PostgreSQL, a real sandbox store, the real engine. A pass that would flip more than 30 % of the
store's synced variants to unavailable trips the guard; from then on no write that makes a variant less
sellable reaches the store, whatever pass carries it (a later full pass, or a partial pass as events and
imports queue them), until an operator confirms or upstream undoes the change. Writes that make variants
more sellable, and corrections of oversells, still go out.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from daemon.db import guard as guard_db
from daemon.db import observability
from daemon.db.pool import Pool
from daemon.engine import PassReport
from tests.e2e.harness import World, world

IN, OUT = "in_stock", "out_of_stock"


async def status_store(w: World, variants: int = 10, out: Iterable[int] = ()) -> None:
    """Store "na" syncing v0..v{n-1}; the listed ones are out upstream and shown unavailable."""
    hidden = set(out)
    await w.add_store("na")
    for i in range(variants):
        await w.variant(f"v{i}", stock={"us1": OUT if i in hidden else IN})
        await w.map("na", f"E{i}", f"v{i}", (i not in hidden, None))
    first = await w.engine.run_pass("na")
    assert first.outcome == "ok" and w.writes("na") == []  # in sync: applied recorded, nothing written


async def go_out(w: World, indexes: Iterable[int]) -> None:
    for i in indexes:
        await w.set_stock(f"v{i}", {"us1": OUT})


async def trip(w: World, indexes: Iterable[int]) -> PassReport:
    await go_out(w, indexes)
    report = await w.engine.run_pass("na", trigger="event")
    assert report.outcome == "held" and "guard" in str(report.held_reason)
    return report


async def guard_held(pool: Pool) -> bool:
    return bool(await pool.fetchval("SELECT guard_held_at IS NOT NULL FROM store_schedule"))


def unavailable(w: World) -> list[str]:
    return sorted(ext for ext, item in w.sandboxes["na"].items.items() if not item.available)


async def test_later_passes_below_the_threshold_write_nothing_less_sellable(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w:
        await status_store(w)
        await trip(w, range(4))  # 4 of 10 > 30 %
        assert w.writes("na") == [] and await guard_held(pool)

        await go_out(w, [4, 5])  # an event batch: 2 of 10, below the threshold on its own
        events = await w.engine.run_pass("na", trigger="event", only=["E4", "E5"])
        assert events.outcome == "held" and events.counts.changed == 0
        await go_out(w, [6])  # one more, then the periodic full pass
        full = await w.engine.run_pass("na", trigger="periodic")
        assert full.outcome == "held" and full.counts.changed == 0

        assert w.writes("na") == [] and unavailable(w) == []
        assert await guard_held(pool)  # the alert stays up


async def test_a_more_sellable_change_is_written_while_held(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await status_store(w, out=[9])
        await trip(w, range(4))
        await w.set_stock("v9", {"us1": IN})  # back in stock upstream: selling it again is safe
        report = await w.engine.run_pass("na", trigger="periodic")
        assert report.outcome == "held" and report.counts.changed == 1
        assert w.writes("na") == ["E9"] and w.shown("na", "E9") == (True, None)
        assert unavailable(w) == []  # the held ones still sell
        assert await guard_held(pool)


async def test_an_oversell_edit_is_put_back_while_held(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await status_store(w, out=[9])
        await trip(w, range(4))
        # a merchant makes the sold-out E9 sellable: overselling, put back even while the store is held
        await w.control("na", "POST", "/control/edit", {"external_id": "E9", "available": True})
        report = await w.engine.run_pass("na", trigger="periodic")
        assert report.outcome == "held" and report.counts.drifted == 1
        assert w.writes("na") == ["E9"] and unavailable(w) == ["E9"]
        assert await pool.fetchval("SELECT status FROM drift_records") == "corrected"


async def test_an_oversold_count_goes_back_to_the_last_applied_count_while_held(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("eu", region="europe", mode="quantity")
        for i in range(10):
            await w.variant(f"s{i}", kind="warehouse", stock={"lv1": (IN, 10)})
            await w.map("eu", f"E{i}", f"s{i}", (True, 10))
        assert (await w.engine.run_pass("eu")).outcome == "ok"
        for i in range(4):
            await w.set_stock(f"s{i}", {"lv1": (OUT, 0)})
        assert (await w.engine.run_pass("eu")).outcome == "held"
        await w.set_stock("s8", {"lv1": (IN, 4)})  # a lower count: held like a flip
        for ext in ("E8", "E9"):  # a merchant raises both counts above what we applied
            await w.control(
                "eu", "POST", "/control/edit", {"external_id": ext, "available": True, "quantity": 15}
            )
        report = await w.engine.run_pass("eu")
        assert report.outcome == "held"
        assert w.shown("eu", "E9") == (True, 10)  # the oversell is corrected to desired
        assert w.shown("eu", "E8") == (True, 10)  # ... and to the last applied count, not below it
        assert all(w.shown("eu", f"E{i}") == (True, 10) for i in range(4))
        confirmed = await w.engine.run_pass("eu", confirm_guard=True)
        assert confirmed.outcome == "ok"
        assert w.shown("eu", "E8") == (True, 4) and w.shown("eu", "E0") == (False, 0)


async def test_confirm_writes_everything_held_and_clears_the_state(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await status_store(w)
        await trip(w, range(4))
        await go_out(w, [4, 5])
        await w.engine.run_pass("na", trigger="event", only=["E4", "E5"])
        confirmed = await w.engine.run_pass("na", trigger="cli", confirm_guard=True)
        assert confirmed.outcome == "ok" and confirmed.counts.changed == 6
        assert unavailable(w) == [f"E{i}" for i in range(6)]
        assert not await guard_held(pool)
        # confirmed: the guard works as before for the next change (one flip is below the threshold)
        await go_out(w, [6])
        assert (await w.engine.run_pass("na", trigger="event", only=["E6"])).outcome == "ok"
        assert "E6" in unavailable(w)


async def test_undoing_the_upstream_change_releases_the_store(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await status_store(w)
        await trip(w, range(4))
        await go_out(w, [4])
        await w.engine.run_pass("na", trigger="event", only=["E4"])
        for i in range(4):  # upstream fixes the bad feed, except v4
            await w.set_stock(f"v{i}", {"us1": IN})
        still = await w.engine.run_pass("na", trigger="periodic")
        assert still.outcome == "held" and await guard_held(pool)  # v4 is still below what we applied
        await w.set_stock("v4", {"us1": IN})
        released = await w.engine.run_pass("na", trigger="periodic")
        assert released.outcome == "ok" and not await guard_held(pool)
        assert w.writes("na") == []  # nothing less sellable was ever written


async def test_the_release_check_frees_a_store_once_upstream_undid_the_change(
    pool: Pool, tmp_path: Path
) -> None:
    # an undo brings desired back to what we applied, so no event queues work: the scheduler's check
    # (guard_db.release_undone, every sync.scheduler_tick_s) must notice it without any pass
    async with world(pool, tmp_path) as w:
        await status_store(w)
        await trip(w, range(4))
        for i in range(3):
            await w.set_stock(f"v{i}", {"us1": IN})
        assert await guard_db.release_undone(pool) == [] and await guard_held(pool)  # v3 still out
        assert await guard_db.current(pool, "na") is not None
        await w.set_stock("v3", {"us1": IN})
        assert await guard_db.release_undone(pool) == ["na"]
        assert not await guard_held(pool) and await guard_db.current(pool, "na") is None
        assert await pool.fetchval("SELECT count(*) FROM guard_held_items") == 0
        assert w.writes("na") == []


async def test_the_alert_gauge_follows_the_store_state(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await status_store(w)
        gauge = {r["store_id"]: r["guard_held"] for r in await observability.store_freshness(pool)}
        assert gauge == {"na": False}
        tripping = await trip(w, range(4))
        assert tripping.guard_tripped
        await w.set_stock("v9", {"us1": OUT})  # an ordinary pass while held: held, not a new trip
        later = await w.engine.run_pass("na", trigger="periodic")
        assert later.outcome == "held" and not later.guard_tripped and len(later.held_writes) == 5
        assert "5 less-sellable write(s) held" in str(later.held_reason)
        gauge = {r["store_id"]: r["guard_held"] for r in await observability.store_freshness(pool)}
        assert gauge == {"na": True}
        await w.engine.run_pass("na", confirm_guard=True)
        gauge = {r["store_id"]: r["guard_held"] for r in await observability.store_freshness(pool)}
        assert gauge == {"na": False}


async def test_a_dry_run_shows_what_a_held_store_holds_and_changes_nothing(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w:
        await status_store(w, out=[9])
        await go_out(w, range(4))
        await w.set_stock("v9", {"us1": IN})
        dry = await w.engine.run_pass("na", dry_run=True)
        assert dry.outcome == "held" and not dry.guard_tripped
        assert [p.external_id for p in dry.writes] == ["E9"]
        assert sorted(p.external_id for p in dry.held_writes) == [f"E{i}" for i in range(4)]
        assert not await guard_held(pool) and w.writes("na") == []


async def test_writes_held_by_a_pass_are_queued_again_if_the_store_was_released_meanwhile(
    pool: Pool, tmp_path: Path
) -> None:
    # e.g. `sync --confirm-guard` from the CLI finished while a worker's pass was deciding
    async with world(pool, tmp_path) as w:
        await status_store(w)
        await trip(w, range(4))
        assert await guard_db.clear(pool, "na") is True
        recorded = await guard_db.record_pass(
            pool, "na", trip_reason=None, held=["E4", "E5"], looked_at=["E4", "E5"], trigger="event"
        )
        assert recorded is guard_db.Recorded.NOT_HELD and not await guard_held(pool)
        queued = await pool.fetch("SELECT external_id FROM work_queue WHERE status = 'queued' ORDER BY 1")
        assert [r["external_id"] for r in queued] == ["E4", "E5"]
