"""Store values at the reconciler boundary: values the state database cannot hold, and "unlimited".

A real engine and database against the sandbox store and the HubRise fake (issue 13: path 7, and
"unlimited is its own value").
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from daemon.db import drift as drift_db
from daemon.db.pool import Pool
from daemon.engine import Engine
from daemon.model import ApplyResult, Change, Observed, StoreConfig
from reconcilers.interface import Reconciler
from tests.e2e.harness import World, world
from tests.reconcilers.fakes.hubrise_fake import HubRiseFake

IN = "in_stock"
TOKEN, SECRET = "hubrise-values-token", "hubrise-values-secret"
TOO_BIG = 3_000_000_000  # a merchant's typo: more than a PostgreSQL integer holds


async def test_sandbox_value_too_large_is_a_per_item_problem_and_the_rest_syncs(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("eu", region="europe", mode="quantity")
        for name in ("a", "b", "c"):
            await w.variant(name, kind="warehouse", stock={"lv1": (IN, 5)})
            await w.map("eu", f"E-{name}", name, (True, 5))
        assert (await w.engine.run_pass("eu")).counts.changed == 0
        await w.control("eu", "POST", "/control/edit", {"external_id": "E-b", "quantity": TOO_BIG})
        await w.set_stock("a", {"lv1": (IN, 7)})
        await w.set_stock("c", {"lv1": (IN, 2)})

        report = await w.engine.run_pass("eu")

        assert report.outcome == "ok"
        assert w.shown("eu", "E-a") == (True, 7) and w.shown("eu", "E-c") == (True, 2)
        assert w.shown("eu", "E-b") == (True, TOO_BIG)  # never written over blindly
        bad = await row(pool, "SELECT * FROM store_state WHERE external_id = 'E-b'")
        assert bad["last_error"] is not None and "3000000000" in bad["last_error"]
        assert bad["observed_quantity"] == 5  # no observation recorded from the bad value
        assert await pool.fetchval("SELECT count(*) FROM drift_records") == 0  # no drift from garbage
        assert report.skipped.get("problem") == 1

        # the merchant fixes the typo: the problem goes away with the next observation
        await w.control("eu", "POST", "/control/edit", {"external_id": "E-b", "quantity": 5})
        await w.engine.run_pass("eu")
        fixed = await row(pool, "SELECT last_error FROM store_state WHERE external_id = 'E-b'")
        assert fixed["last_error"] is None


async def test_hubrise_values_beyond_a_count_are_per_item_problems(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w, hubrise_store(w, "quantity") as fake:
        fake.inventory = {
            ("sku_ref", "A"): "1",
            ("sku_ref", "B"): "3000000000",
            ("sku_ref", "C"): "1e20",
            ("sku_ref", "D"): "1e999999999",  # int() of this would never return
            ("sku_ref", "E"): "9" * 5000,
        }
        report = await w.engine.run_pass("pos")
        assert report.outcome == "ok"
        assert fake.inventory[("sku_ref", "A")] == "4"  # the rest of the store keeps syncing
        for ref in "BCDE":
            assert fake.inventory[("sku_ref", ref)] != "4", ref
        rows = await pool.fetch(
            "SELECT external_id, last_error FROM store_state WHERE last_error IS NOT NULL"
        )
        errors = {r["external_id"]: r["last_error"] for r in rows}
        assert sorted(errors) == ["sku:B", "sku:C", "sku:D", "sku:E"]
        assert all("beyond" in reason and len(reason) < 300 for reason in errors.values())
        assert report.skipped.get("problem") == 4


async def test_hubrise_quantity_store_with_no_entries_gets_its_counts(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w, hubrise_store(w, "quantity") as fake:
        fake.inventory = {}  # a new location: every item unlimited
        report = await w.engine.run_pass("pos")
        assert report.counts.changed == 5
        assert {ref: fake.inventory[("sku_ref", ref)] for ref in "ABCDE"} == dict.fromkeys("ABCDE", "4")
        again = await w.engine.run_pass("pos")
        assert again.counts.changed == 0 and again.counts.drifted == 0


async def test_merchant_setting_unlimited_over_our_count_is_drift_and_put_back(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w, hubrise_store(w, "quantity") as fake:
        fake.inventory = {("sku_ref", ref): "4" for ref in "ABCDE"}
        await w.engine.run_pass("pos")  # in sync: our counts are recorded as applied
        async with aiohttp.ClientSession() as session:  # the POS removes A's entry: unlimited
            await fake.manual_patch(session, [{"sku_ref": "A", "stock": None}])
        report = await w.engine.run_pass("pos")
        assert report.counts.drifted == 1
        assert fake.inventory[("sku_ref", "A")] == "4"  # protect: unlimited sells more, put back
        record = await row(pool, "SELECT * FROM drift_records")
        assert record["external_id"] == "sku:A" and record["status"] == "corrected"
        assert record["store_unlimited"] is True and record["store_quantity"] is None
        assert record["expected_quantity"] == 4 and record["expected_unlimited"] is False


async def test_sandbox_unlimited_over_an_applied_count_is_drift_overwrite_or_report(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("eu", region="europe", mode="quantity")
        await w.add_store("rep", region="europe", mode="quantity", policy="report")
        await w.variant("a", kind="warehouse", stock={"lv1": (IN, 5)})
        for store in ("eu", "rep"):
            await w.map(store, "E-a", "a", (True, 5))
            await w.engine.run_pass(store)  # in sync: 5 is applied
            await w.control(store, "POST", "/control/edit", {"external_id": "E-a", "unlimited": True})
        protect = await w.engine.run_pass("eu")
        report = await w.engine.run_pass("rep")
        assert protect.counts.drifted == 1 and report.counts.drifted == 1
        assert w.shown("eu", "E-a") == (True, 5)  # protect: unlimited sells more than 5, put back
        assert w.sandboxes["rep"].items["E-a"].unlimited  # report: left for support
        held = await row(pool, "SELECT * FROM drift_records WHERE store_id = 'rep'")
        assert (held["status"], held["store_unlimited"], held["expected_quantity"]) == ("open", True, 5)
        page = await row(
            pool, "SELECT observed_unlimited, applied_unlimited FROM store_state WHERE store_id = 'rep'"
        )
        assert (page["observed_unlimited"], page["applied_unlimited"]) == (True, False)


async def test_a_store_webhook_with_a_value_beyond_a_count_is_a_per_item_problem(
    pool: Pool, tmp_path: Path
) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("eu", region="europe", mode="quantity")
        for name in ("a", "b"):
            await w.variant(name, kind="warehouse", stock={"lv1": (IN, 5)})
            await w.map("eu", f"E-{name}", name, (True, 5))
        await w.engine.run_pass("eu")
        result = await w.engine.take_notification(
            "eu", [Observed("E-a", True, TOO_BIG), Observed("E-b", True, 9)]
        )
        assert (result.matched, result.drift_opened, result.queued) == (2, 1, 1)  # only E-b drifted
        bad = await row(
            pool, "SELECT last_error, observed_quantity FROM store_state WHERE external_id = 'E-a'"
        )
        assert bad["observed_quantity"] == 5 and "3000000000" in bad["last_error"]


class _ConfirmsTooMuch(Engine):
    """A platform that answers a write with a count the database cannot hold."""

    def reconciler_for(self, store: StoreConfig) -> Reconciler:
        real = super().reconciler_for(store)

        class Odd:
            capabilities = real.capabilities
            observe = real.observe

            async def apply(self, changes: Sequence[Change]) -> ApplyResult:
                result = await real.apply(changes)
                return replace(
                    result, confirmed=tuple(replace(o, quantity=TOO_BIG) for o in result.confirmed)
                )

        return Odd()  # type: ignore[return-value]


async def test_a_confirmed_value_beyond_a_count_fails_that_item_only(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("eu", region="europe", mode="quantity")
        await w.variant("a", kind="warehouse", stock={"lv1": (IN, 5)})
        await w.map("eu", "E-a", "a", (True, 1))
        odd = _ConfirmsTooMuch(pool, w.engine._factory, w.engine._credentials, w.engine._config)
        report = await odd.run_pass("eu")
        assert report.outcome == "failed" and report.counts.failed == 1
        assert [f.permanent for f in report.failures] == [True] and "beyond" in report.failures[0].reason
        state = await row(pool, "SELECT applied_quantity, last_error FROM store_state")
        assert state["applied_quantity"] is None and "beyond" in state["last_error"]


async def row(pool: Pool, sql: str) -> dict[str, Any]:
    found = await pool.fetchrow(sql)
    assert found is not None, sql
    return dict(found)


@asynccontextmanager
async def hubrise_store(w: World, mode: str) -> AsyncIterator[HubRiseFake]:
    """Store 'pos' on the HubRise fake, syncing five warehouse variants A..E with 4 units each."""
    fake = HubRiseFake(TOKEN, SECRET, "cat1", "loc-1")
    base_url = await fake.start()
    (w.credentials_dir / "pos-token").write_text(json.dumps({"access_token": TOKEN, "client_secret": SECRET}))
    settings = {"base_url": base_url, "catalog_id": "cat1", "location_id": "loc-1"}
    await w.pool.execute(
        "INSERT INTO stores (id, platform, region_id, credential, mode, settings)"
        " VALUES ('pos', 'hubrise', 'europe', 'pos-token', $1, $2)",
        mode,
        settings,
    )
    await w.pool.execute("INSERT INTO store_schedule (store_id) VALUES ('pos')")
    for ref in "ABCDE":
        await w.variant(ref.lower(), kind="warehouse", stock={"lv1": (IN, 4)})
        await w.pool.execute(
            "INSERT INTO synced_variants (store_id, external_id, variant_id) VALUES ('pos', $1, $2)",
            f"sku:{ref}",
            ref.lower(),
        )
    try:
        yield fake
    finally:
        await fake.stop()


async def test_an_oversold_store_value_is_kept_without_breaking_the_pass(pool: Pool, tmp_path: Path) -> None:
    # a store may show negative stock (oversold); applied quantities cannot be negative
    async with world(pool, tmp_path) as w:
        await w.add_store("na")
        await w.variant("a", stock={"us1": "out_of_stock"})
        await w.variant("b", stock={"us1": IN})
        await w.map("na", "E-a", "a", (False, -3))
        await w.map("na", "E-b", "b", (False, None))
        report = await w.engine.run_pass("na")
        assert report.outcome == "ok" and w.shown("na", "E-b")[0] is True
        state = await row(
            pool, "SELECT observed_quantity, applied_available FROM store_state WHERE external_id = 'E-a'"
        )
        assert (state["observed_quantity"], state["applied_available"]) == (-3, False)


async def test_support_can_accept_an_oversold_count(pool: Pool, tmp_path: Path) -> None:
    async with world(pool, tmp_path) as w:
        await w.add_store("eu", region="europe", mode="quantity")
        await w.variant("a", kind="warehouse", stock={"lv1": (IN, 5)})
        await w.map("eu", "E-a", "a", (True, 5))
        await w.engine.run_pass("eu")
        await w.control(
            "eu", "POST", "/control/edit", {"external_id": "E-a", "available": False, "quantity": -3}
        )
        await w.engine.run_pass("eu")  # hides stock upstream has: protect reports it
        drift_id = await pool.fetchval("SELECT id FROM drift_records WHERE status = 'open'")
        async with pool.acquire() as conn:
            await drift_db.resolve(conn, drift_id, "accept", "support")
        state = await row(pool, "SELECT applied_available, applied_quantity FROM store_state")
        assert (state["applied_available"], state["applied_quantity"]) == (False, 0)
        assert (await w.engine.run_pass("eu")).counts.drifted == 0  # paused: no drift, no write
