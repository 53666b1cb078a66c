"""A full pass end to end: real PostgreSQL, a real sandbox store server, the real engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from daemon.db.pool import Pool
from daemon.engine import Engine
from daemon.model import ApplyResult, Change, StoreConfig
from reconcilers.interface import Notification, Reconciler
from tests.e2e.harness import world

IN, OUT = "in_stock", "out_of_stock"


async def test_first_pass_writes_exactly_the_differences_then_nothing(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("na", region="north_america")
        await w.variant("tee", stock={"us1": IN})
        await w.variant("hoodie", stock={"us1": OUT, "ca1": OUT, "mx1": OUT, "lv1": IN})
        await w.variant("cap", stock={"us1": IN, "lv1": OUT, "es1": OUT})
        await w.variant("tote", stock={"au1": IN})  # no north_america facility: unknown
        await w.map("na", "E-TEE", "tee", (True, None))
        await w.map("na", "E-HOODIE", "hoodie", (True, None))
        await w.map("na", "E-CAP", "cap", (False, None))
        await w.map("na", "E-TOTE", "tote", (False, None))
        first = await w.engine.run_pass("na")
        assert first.outcome == "ok"
        assert sorted(w.writes("na")) == ["E-CAP", "E-HOODIE"]
        assert w.shown("na", "E-HOODIE")[0] is False and w.shown("na", "E-CAP")[0] is True
        assert w.shown("na", "E-TOTE")[0] is False  # unknown desired is never written
        assert (first.counts.checked, first.counts.changed, first.counts.unknown) == (4, 2, 1)
        second = await w.engine.run_pass("na")
        assert second.counts.changed == 0 and len(w.writes("na")) == 2
        log = await pool.fetch("SELECT external_id, reason, outcome FROM change_log ORDER BY external_id")
        assert [(r["external_id"], r["outcome"]) for r in log] == [
            ("E-CAP", "applied"),
            ("E-HOODIE", "applied"),
        ]
        runs = await pool.fetch("SELECT outcome, changed FROM sync_runs ORDER BY id")
        assert [(r["outcome"], r["changed"]) for r in runs] == [("ok", 2), ("ok", 0)]


async def test_quantity_mode_writes_buffered_counts_in_batches(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("eu", region="europe", mode="quantity", safety_buffer=2, batch_limit=7)
        for i in range(20):
            await w.variant(
                f"s{i}", kind="warehouse", stock={"lv1": (IN, 10 + i), "es1": (IN, 1), "us1": (IN, 99)}
            )
            await w.map("eu", f"E{i:02d}", f"s{i}", (True, 0))
        report = await w.engine.run_pass("eu")
        assert report.counts.changed == 20
        assert w.shown("eu", "E05") == (True, 10 + 5 + 1 - 2)
        batches = {r.batch_id for r in w.sandboxes["eu"].write_log}
        assert len(batches) == 3  # ceil(20 / 7): the largest allowed batches


@pytest.mark.parametrize(
    ("policy", "edit", "written_back", "status"),
    [
        ("overwrite", True, True, "corrected"),
        ("report", True, False, "open"),
        ("protect", True, True, "corrected"),  # sellable while upstream is out: overselling, put back
        ("protect", False, False, "open"),  # hidden while upstream has it: reported for support
    ],
)
async def test_manual_edit_opens_one_drift_record_and_the_policy_acts(
    pool: Pool, tmp_path: Path, policy: str, edit: bool, written_back: bool, status: str
) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("na", policy=policy)
        upstream = OUT if edit else IN
        await w.variant("tee", stock={"us1": upstream})
        await w.map("na", "E-TEE", "tee", (not edit, None))
        await w.engine.run_pass("na")  # first sync: the store now shows what upstream says
        assert w.shown("na", "E-TEE")[0] is (not edit)
        await w.control("na", "POST", "/control/edit", {"external_id": "E-TEE", "available": edit})
        report = await w.engine.run_pass("na")
        again = await w.engine.run_pass("na")
        assert report.counts.drifted == 1
        assert w.shown("na", "E-TEE")[0] is ((not edit) if written_back else edit)
        records = await pool.fetch("SELECT status, occurrences FROM drift_records")
        assert len(records) == 1 and records[0]["status"] == status
        if status == "open":
            assert records[0]["occurrences"] == 2 and again.counts.changed == 0


async def test_partial_failure_records_only_confirmed_and_retries_the_rest(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path, retries={"in_pass_attempts": 2}) as w:
        await w.add_store("na")
        for name in ("a", "b", "c"):
            await w.variant(name, stock={"us1": IN})
            await w.map("na", f"E-{name}", name, (False, None))
        await w.control(
            "na", "POST", "/control/faults", {"fail_items": {"E-b": "temporary", "E-c": "permanent"}}
        )
        report = await w.engine.run_pass("na")
        assert report.outcome == "partial" and report.counts.changed == 1 and report.counts.failed == 2
        applied = await pool.fetch("SELECT external_id FROM store_state WHERE applied_available IS NOT NULL")
        assert [r["external_id"] for r in applied] == ["E-a"]
        errors = await pool.fetch(
            "SELECT external_id, last_error FROM store_state WHERE last_error IS NOT NULL"
        )
        assert sorted(r["external_id"] for r in errors) == ["E-b", "E-c"]
        await w.control("na", "DELETE", "/control/faults")
        retry = await w.engine.run_pass("na")
        assert retry.outcome == "ok" and retry.counts.changed == 2
        assert all(w.shown("na", f"E-{n}")[0] for n in "abc")


async def test_guard_holds_a_pass_that_would_zero_the_store(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("na")
        for i in range(10):
            await w.variant(f"v{i}", stock={"us1": OUT})  # a bad feed: everything out
            await w.map("na", f"E{i}", f"v{i}", (True, None))
        report = await w.engine.run_pass("na")
        assert report.outcome == "held" and "10 of 10" in str(report.held_reason)
        assert w.writes("na") == []
        run = await pool.fetchrow("SELECT outcome, held_reason FROM sync_runs")
        assert run is not None
        assert run["outcome"] == "held" and "guard" in run["held_reason"]
        assert await pool.fetchval("SELECT guard_held_at IS NOT NULL FROM store_schedule") is True
        confirmed = await w.engine.run_pass("na", confirm_guard=True)
        assert confirmed.counts.changed == 10


async def test_dry_run_writes_nothing_anywhere(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("na")
        await w.variant("tee", stock={"us1": OUT})
        await w.map("na", "E-TEE", "tee", (True, None))
        report = await w.engine.run_pass("na", dry_run=True)
        assert [(p.external_id, p.target.available) for p in report.writes] == [("E-TEE", False)]
        assert w.writes("na") == [] and w.shown("na", "E-TEE")[0] is True
        for table in ("store_state", "sync_runs", "change_log", "drift_records"):
            assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table


async def test_unsynced_items_are_never_touched(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("na")
        await w.variant("tee", stock={"us1": OUT})
        await w.map("na", "E-TEE", "tee", (True, None))
        await w.control(
            "na",
            "POST",
            "/control/items",
            {"items": [{"external_id": "NOT-SYNCED", "available": True, "quantity": None}]},
        )
        await w.engine.run_pass("na")
        assert w.writes("na") == ["E-TEE"] and w.shown("na", "NOT-SYNCED")[0] is True


async def test_store_webhook_notification_flags_drift_before_any_pass(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("na", policy="report")
        await w.variant("tee", stock={"us1": IN})
        await w.map("na", "E-TEE", "tee", (False, None))
        await w.engine.run_pass("na")
        from daemon.model import Observed

        echo = await w.engine.take_notification("na", [Observed("E-TEE", True)])
        assert echo.drift_opened == 0  # our own write echoing back is not drift
        edit = await w.engine.take_notification("na", [Observed("E-TEE", False)])
        assert (edit.matched, edit.drift_opened, edit.queued) == (1, 1, 0)
        assert await pool.fetchval("SELECT detected_via FROM drift_records") == "webhook"


async def test_a_notification_naming_products_queues_only_their_synced_variants(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("na")
        for name in ("p1:a", "p1:b", "p2:c"):
            await w.variant(name.replace(":", "-"), stock={"us1": IN})
            await w.map("na", name, name.replace(":", "-"), (True, None))
        await w.engine.run_pass("na")
        named = Notification(reread_products={"p1"}, delivery_id="d-1")
        result = await w.engine.take_notification("na", named, None, lambda e: e.split(":")[0])
        assert (result.matched, result.queued) == (2, 2)
        queued = await pool.fetch(
            "SELECT kind, external_id FROM work_queue WHERE store_id = 'na' AND status = 'queued' ORDER BY 2"
        )
        assert [(r["kind"], r["external_id"]) for r in queued] == [("variant", "p1:a"), ("variant", "p1:b")]


class _DiedAfterTheStoreAnswered(BaseException):
    """Stands for kill -9 between the store taking a write and us storing its answer."""


class _DiesAfterWriting(Engine):
    def reconciler_for(self, store: StoreConfig) -> Reconciler:
        real = super().reconciler_for(store)

        class Dying:
            capabilities = real.capabilities
            observe = real.observe

            async def apply(self, changes: Sequence[Change]) -> ApplyResult:
                await real.apply(changes)
                raise _DiedAfterTheStoreAnswered

        return Dying()  # type: ignore[return-value]


async def test_a_write_whose_answer_was_never_stored_is_not_taken_for_drift(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("eu", region="europe", mode="quantity", policy="report")
        await w.variant("s", kind="warehouse", stock={"lv1": (IN, 4)})
        await w.map("eu", "E-S", "s", (True, 4))
        assert (await w.engine.run_pass("eu")).outcome == "ok"  # in sync: 4 applied
        await w.set_stock("s", {"lv1": (IN, 5)})
        dying = _DiesAfterWriting(pool, w.engine._factory, w.engine._credentials, w.engine._config)
        with pytest.raises(_DiedAfterTheStoreAnswered):
            await dying.run_pass("eu")
        assert w.shown("eu", "E-S") == (True, 5)  # the store took it; we never recorded it
        await w.set_stock("s", {"lv1": (IN, 6)})  # desired moves on before the store is observed again
        report = await w.engine.run_pass("eu")
        assert report.drift_opened == 0 and report.counts.changed == 1
        assert w.shown("eu", "E-S") == (True, 6)
        assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0
