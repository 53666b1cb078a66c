"""Drift pages: sign-in, CSRF, accept/reapply, CSV, variant history; and a real browser resolving a drift."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from daemon.config import Config
from daemon.credentials import CredentialStore
from daemon.db.pool import Pool
from daemon.metrics import DRIFT_RESOLVED
from daemon.web.app import build_app
from daemon.web.context import Liveness, Services
from daemon.web.sessions import COOKIE
from tests.e2e.harness import World, world

ADMIN = "page-admin-token"
Client = TestClient[web.Request, web.Application]


@asynccontextmanager
async def drift_site(pool: Pool, tmp_path: Path) -> AsyncIterator[tuple[World, Client, int]]:
    async with world(pool, tmp_path) as w:
        await w.add_store("na", policy="report")
        await w.variant("tee", stock={"us1": "in_stock", "lv1": "out_of_stock"})
        await w.variant("mug", stock={"us1": "in_stock"})
        await w.pool.execute("UPDATE variants SET sku = '<b>TEE</b>' WHERE id = 'tee'")  # must be escaped
        await w.map("na", "E-TEE", "tee", (True, None))
        await w.map("na", "E-MUG", "mug", (True, None))
        await w.engine.run_pass("na")
        await w.control("na", "POST", "/control/edit", {"external_id": "E-TEE", "available": False})
        await w.engine.run_pass("na")
        drift_id = await pool.fetchval("SELECT id FROM drift_records")
        (w.credentials_dir / "admin-token").write_text(ADMIN)
        credentials = CredentialStore(str(w.credentials_dir))
        app = build_app(Services(Config(), pool, w.engine, credentials, Liveness(scheduler_running=True)))
        async with TestClient(TestServer(app)) as client:
            yield w, client, drift_id


async def sign_in(client: Client) -> None:
    response = await client.post("/drift/login", data={"token": ADMIN}, allow_redirects=False)
    assert response.status == 303
    cookie = response.cookies[COOKIE]
    assert ADMIN not in cookie.value and cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/drift"


async def test_sign_in_list_and_csrf_protected_accept(pool: Pool, tmp_path: Path) -> None:
    async with drift_site(pool, tmp_path) as (_, client, drift_id):
        redirect = await client.get("/drift", allow_redirects=False)
        assert redirect.status == 303 and redirect.headers["Location"] == "/drift/login"
        wrong = await client.post("/drift/login", data={"token": "nope"}, allow_redirects=False)
        assert wrong.status == 401
        await sign_in(client)
        listing = await client.get("/drift")
        assert "frame-ancestors 'none'" in listing.headers["Content-Security-Policy"]
        assert listing.headers["Cache-Control"] == "no-store"
        html = await listing.text()
        assert "&lt;b&gt;TEE&lt;/b&gt;" in html and "<b>TEE</b>" not in html
        assert "E-TEE" in html and "Accept store value" in html
        forged = await client.post(
            f"/drift/{drift_id}/accept", data={"csrf": "forged"}, allow_redirects=False
        )
        assert forged.status == 403
        assert await pool.fetchval("SELECT status FROM drift_records") == "open"
        csrf = html.split("name='csrf' value='")[1].split("'")[0]
        accepted = await client.post(
            f"/drift/{drift_id}/accept", data={"csrf": csrf, "confirm": "yes"}, allow_redirects=False
        )
        assert accepted.status == 303
        assert await pool.fetchval("SELECT status FROM drift_records") == "accepted"
        assert (
            await pool.fetchval("SELECT sync_enabled FROM synced_variants WHERE external_id = 'E-TEE'")
            is False
        )


async def test_the_page_explains_itself_confirms_accept_and_says_how_to_resume(
    pool: Pool, tmp_path: Path
) -> None:
    # found: a free-text store box, no legend for held/corrected/contested, times without a zone,
    # Accept (which stops syncing) in one click, and a paused variant with no way back
    async with drift_site(pool, tmp_path) as (_, client, drift_id):
        await sign_in(client)
        html = await (await client.get("/drift")).text()
        assert "<select name='store'>" in html and "<option value='na'>na</option>" in html
        assert "<input name='store'" not in html
        for status in ("held", "corrected", "contested"):
            assert f"<dt>{status}</dt>" in html
        detected = await pool.fetchval("SELECT detected_at FROM drift_records")
        assert detected.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") in html
        csrf = html.split("name='csrf' value='")[1].split("'")[0]

        asked = await client.post(f"/drift/{drift_id}/accept", data={"csrf": csrf}, allow_redirects=False)
        page = await asked.text()
        assert asked.status == 200 and "stops syncing" in page and "name='confirm' value='yes'" in page
        assert await pool.fetchval("SELECT status FROM drift_records") == "open"  # only asked
        done = await client.post(
            f"/drift/{drift_id}/accept", data={"csrf": csrf, "confirm": "yes"}, allow_redirects=False
        )
        assert done.status == 303 and await pool.fetchval("SELECT status FROM drift_records") == "accepted"

        history = await (await client.get("/drift/stores/na/variants/E-TEE")).text()
        assert "syncing paused" in history and "Resume syncing" in history and " UTC" in history
        forged = await client.post("/drift/stores/na/variants/E-TEE/resume", data={"csrf": "x"})
        assert forged.status == 403
        resumed = await client.post(
            "/drift/stores/na/variants/E-TEE/resume", data={"csrf": csrf}, allow_redirects=False
        )
        assert resumed.status == 303
        assert await pool.fetchval("SELECT sync_enabled FROM synced_variants WHERE external_id = 'E-TEE'")
        assert await pool.fetchval("SELECT count(*) FROM work_queue WHERE external_id = 'E-TEE'") == 1
        missing = await client.post("/drift/stores/na/variants/NOPE/resume", data={"csrf": csrf})
        assert missing.status == 404


async def test_reapply_by_script_queues_a_write_and_csv_exports(pool: Pool, tmp_path: Path) -> None:
    async with drift_site(pool, tmp_path) as (_, client, drift_id):
        bearer = {"Authorization": f"Bearer {ADMIN}"}
        csv = await client.get("/drift.csv?status=all", headers=bearer)
        text = await csv.text()
        assert csv.status == 200 and csv.headers["Content-Type"].startswith("text/csv")
        assert text.splitlines()[0].startswith("id,store_id,sku,external_id") and "E-TEE" in text
        assert (await client.get("/drift.csv")).status == 401
        before = DRIFT_RESOLVED.labels("reapply")._value.get()
        reapplied = await client.post(f"/drift/{drift_id}/reapply", headers=bearer, allow_redirects=False)
        assert reapplied.status == 303
        assert DRIFT_RESOLVED.labels("reapply")._value.get() == before + 1
        queued = await pool.fetchrow("SELECT external_id, trigger FROM work_queue WHERE status = 'queued'")
        assert queued is not None and tuple(queued) == (
            "E-TEE",
            "reapply",
        )  # its pass logs the write as a reapply
        again = await client.post(f"/drift/{drift_id}/reapply", headers=bearer, allow_redirects=False)
        assert again.status == 404


async def test_variant_history_explains_the_value(pool: Pool, tmp_path: Path) -> None:
    async with drift_site(pool, tmp_path) as (_, client, _):
        assert (await client.get("/v1/stores/na/variants/E-TEE/history")).status == 401
        response = await client.get(
            "/v1/stores/na/variants/E-TEE/history", headers={"Authorization": f"Bearer {ADMIN}"}
        )
        history = await response.json()
        assert history["desired"] == {"available": True, "quantity": None}
        assert {(f["facility_id"], f["status"], f["in_region"]) for f in history["facilities"]} == {
            ("us1", "in_stock", True),
            ("lv1", "out_of_stock", False),
        }
        assert history["drift"][0]["status"] == "open" and history["variant"]["observed_available"] is False
        missing = await client.get(
            "/v1/stores/na/variants/NOPE/history", headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert missing.status == 404
        await sign_in(client)
        page = await (await client.get("/drift/stores/na/variants/E-TEE")).text()
        assert "outside the selling region" in page and "Desired now: <b>available</b>" in page


async def test_bad_filters_and_unknown_ids_are_refused_cleanly(pool: Pool, tmp_path: Path) -> None:
    async with drift_site(pool, tmp_path) as (_, client, drift_id):
        await sign_in(client)
        for age in ("99999999999", "abc", "-1", "nan"):
            response = await client.get(f"/drift?age={age}")
            assert response.status == 400 and (await response.json())["field"] == "age"
        assert (await client.get("/drift/export.csv?age=1e400")).status == 400
        old_only = await (await client.get("/drift?age=1")).text()
        assert "E-TEE" not in old_only  # detected seconds ago, so not older than an hour
        html = await (await client.get("/drift")).text()
        csrf = html.split("name='csrf' value='")[1].split("'")[0]
        huge = await client.post("/drift/99999999999999999999/accept", data={"csrf": csrf})
        assert huge.status == 404
        unknown = await client.post(f"/drift/{drift_id + 1000}/accept", data={"csrf": csrf})
        assert unknown.status == 404 and unknown.headers["Content-Type"].startswith("text/html")
        assert f"no open drift record {drift_id + 1000}" in await unknown.text()
        page = await client.get("/drift/stores/na/variants/%3Cscript%3E")
        assert page.status == 404 and "&lt;script&gt;" in await page.text()
        assert "<script>" not in await page.text()


async def test_browser_csv_link_uses_the_session_cookie(pool: Pool, tmp_path: Path) -> None:
    async with drift_site(pool, tmp_path) as (_, client, _):
        assert (await client.get("/drift/export.csv")).status == 401
        await sign_in(client)
        html = await (await client.get("/drift?store=na")).text()
        assert "href='/drift/export.csv?store=na&amp;status=open'" in html
        csv = await client.get("/drift/export.csv?store=na&status=open")
        assert csv.status == 200 and "attachment" in csv.headers["Content-Disposition"]
        assert "E-TEE" in await csv.text()
        assert (await client.get("/drift.csv")).status == 401  # outside the cookie's path


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)")
async def test_support_agent_resolves_drift_in_a_real_browser(pool: Pool, tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with drift_site(pool, tmp_path) as (_, client, _), playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = await browser.new_page()
            base = str(client.make_url("/"))
            await page.goto(base + "drift")
            assert page.url.endswith("/drift/login")
            await page.fill("input[name=token]", ADMIN)
            async with page.expect_navigation():
                await page.click("button[type=submit]")
            assert page.url.endswith("/drift")
            assert "E-TEE" in await page.inner_text("table")
            async with page.expect_navigation():
                await page.click("button[value=reapply]")
            # no open drift left: no record offers its buttons (the legend still names them)
            assert await page.locator("button[value=reapply]").count() == 0
            await page.screenshot(path=str(tmp_path / "drift.png"))
        finally:
            await browser.close()
    assert await pool.fetchval("SELECT status FROM drift_records") == "reapplied"
    assert await pool.fetchval("SELECT count(*) FROM work_queue WHERE external_id = 'E-TEE'") == 1


async def test_active_alerts_are_shown_at_the_top_escaped_and_nothing_when_none(
    pool: Pool, tmp_path: Path
) -> None:
    async with drift_site(pool, tmp_path) as (_, client, _):
        await sign_in(client)
        quiet = await (await client.get("/drift")).text()
        assert "Active alerts" not in quiet and "role='alert'" not in quiet
        await pool.execute(
            "UPDATE store_schedule SET guard_held_at = now(), guard_reason = '<script>x</script> 4 of 10'"
        )
        text = await (await client.get("/drift")).text()
        assert "Active alerts (1)" in text
        assert text.index("Active alerts") < text.index("<form")  # above the filters and the table
        assert "guard_held" in text and "store na held by the mass-unavailable guard" in text
        assert "<script>" not in text and "&lt;script&gt;x&lt;/script&gt; 4 of 10" in text
        await pool.execute("UPDATE store_schedule SET guard_held_at = NULL, guard_reason = NULL")
        assert "Active alerts" not in await (await client.get("/drift")).text()
