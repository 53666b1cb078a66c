"""Drift listings beyond 1,000 records: every listing (JSON pages, CSV, HTML, CLI) reaches every matching
record, filters (store, status, age) apply before any limit, totals come from the database, and paging
neither repeats nor skips a record while new drift arrives between page fetches."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

from daemon.db.pool import Pool
from tests.e2e.daemon_process import ADMIN_TOKEN, STOCKSYNC
from tests.e2e.harness import CATALOG_SQL
from tests.faults.app_client import Client, app_client

BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
OPEN_NA = 1500
RECENT = 1200  # the newest 1,200 of them are minutes old; the other 300 are over two days old
RESOLVED_NA = 50
OPEN_EU = 20

# Seven records share each detected_at, so ties on the timestamp fall across page boundaries.
SEED_SQL = f"""
INSERT INTO stores (id, platform, region_id, credential) VALUES
    ('na', 'sandbox', 'north_america', 'na-token'), ('eu', 'sandbox', 'europe', 'eu-token');
INSERT INTO variants SELECT 'v' || i, 'SKU-' || i, 'pod' FROM generate_series(1, {OPEN_NA}) i;
INSERT INTO synced_variants (store_id, external_id, variant_id)
    SELECT 'na', 'E-' || i, 'v' || i FROM generate_series(1, {OPEN_NA}) i
    UNION ALL SELECT 'eu', 'EU-' || i, 'v' || i FROM generate_series(1, {OPEN_EU}) i;
INSERT INTO drift_records (store_id, external_id, variant_id, expected_available, store_available,
                           detected_via, action, detected_at)
    SELECT 'na', 'E-' || i, 'v' || i, true, false, 'pass', 'held',
           now() - (i / 7) * interval '1 minute' - CASE WHEN i > {RECENT} THEN interval '2 days' ELSE '0' END
    FROM generate_series(1, {OPEN_NA}) i;
INSERT INTO drift_records (store_id, external_id, variant_id, expected_available, store_available,
                           detected_via, action, status, resolved_at, detected_at)
    SELECT 'na', 'E-' || i, 'v' || i, true, false, 'pass', 'overwritten', 'corrected', now(),
           now() - i * interval '1 second'
    FROM generate_series(1, {RESOLVED_NA}) i;
INSERT INTO drift_records (store_id, external_id, variant_id, expected_available, store_available,
                           detected_via, action)
    SELECT 'eu', 'EU-' || i, 'v' || i, true, false, 'webhook', 'held' FROM generate_series(1, {OPEN_EU}) i;
"""


async def seed(pool: Pool) -> None:
    await pool.execute(CATALOG_SQL)
    await pool.execute(SEED_SQL)


async def ids_where(pool: Pool, condition: str) -> list[int]:
    """Ids in listing order (newest first) straight from the table, the truth every listing must match."""
    rows = await pool.fetch(
        f"SELECT id FROM drift_records WHERE {condition} ORDER BY detected_at DESC, id DESC"
    )
    return [r["id"] for r in rows]


async def json_pages(client: Client, query: str) -> tuple[list[int], list[int]]:
    """Follow `next` from the first page to the last: (ids in order, the total each page reported)."""
    ids: list[int] = []
    totals: list[int] = []
    url = f"/v1/drift?{query}"
    while True:
        response = await client.get(url, headers=BEARER)
        assert response.status == 200, await response.text()
        body = await response.json()
        ids += [r["id"] for r in body["drift"]]
        totals.append(body["total"])
        if body["next"] is None:
            return ids, totals
        url = f"/v1/drift?{query}&after={body['next']}"


async def csv_ids(client: Client, query: str) -> list[int]:
    response = await client.get(f"/drift.csv?{query}", headers=BEARER)
    assert response.status == 200, await response.text()
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    return [int(r["id"]) for r in rows]


async def run_cli(dsn: str, credentials: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
    env.update(STOCKSYNC_DATABASE__DSN=dsn, STOCKSYNC_CREDENTIALS__DIRECTORY=str(credentials))
    process = await asyncio.create_subprocess_exec(
        STOCKSYNC, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def html_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r"<tr><td>(\d+)</td>", html)]


def link(html: str, label: str) -> str | None:
    found = re.search(rf"<a href='(/drift\?[^']*)'[^>]*>{label}</a>", html)
    return None if found is None else found.group(1).replace("&amp;", "&")


async def test_every_listing_reaches_all_1500_open_records(pool: Pool, db_dsn: str, tmp_path: Path) -> None:
    await seed(pool)
    expected = await ids_where(pool, "store_id = 'na' AND status = 'open'")
    assert len(expected) == OPEN_NA
    async with app_client(pool, tmp_path / "credentials") as client:
        ids, totals = await json_pages(client, "store=na&limit=400")
        assert ids == expected and set(totals) == {OPEN_NA} and len(totals) == 4
        assert await csv_ids(client, "store=na") == expected
        browser = await client.get("/drift/export.csv?store=na", headers=BEARER)
        assert len((await browser.text()).splitlines()) == OPEN_NA + 1
        html = await (await client.get("/drift?store=na", headers=BEARER)).text()
        assert "showing 1–100 of 1,500" in html and html_ids(html) == expected[:100]
    code, out, _ = await run_cli(
        db_dsn, tmp_path / "credentials", "drift", "list", "--store", "na", "--format", "json"
    )
    assert code == 0 and [r["id"] for r in json.loads(out)] == expected
    code, out, _ = await run_cli(db_dsn, tmp_path / "credentials", "drift", "report", "--store", "na")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "drift report: 1500 open record(s) for store na"
    assert sum(1 for line in lines if re.match(r"\d+\s+na\s", line)) == OPEN_NA
    code, out, _ = await run_cli(db_dsn, tmp_path / "credentials", "drift", "list", "--store", "na")
    assert code == 0 and out.splitlines()[-1] == "1500 open record(s)"


async def test_age_filter_reaches_old_records_beyond_the_newest_1000(
    pool: Pool, db_dsn: str, tmp_path: Path
) -> None:
    await seed(pool)
    old = await ids_where(
        pool, "store_id = 'na' AND status = 'open' AND detected_at < now() - interval '1 day'"
    )
    assert len(old) == OPEN_NA - RECENT
    async with app_client(pool, tmp_path / "credentials") as client:
        ids, totals = await json_pages(client, "store=na&age=24&limit=1000")
        assert ids == old and set(totals) == {len(old)}
        assert await csv_ids(client, "store=na&age=24") == old
        html = await (await client.get("/drift?store=na&age=24", headers=BEARER)).text()
        assert "showing 1–100 of 300" in html and html_ids(html) == old[:100]
    code, out, _ = await run_cli(
        db_dsn,
        tmp_path / "credentials",
        "drift",
        "list",
        "--store",
        "na",
        "--older-than",
        "24",
        "--format",
        "csv",
    )
    assert code == 0 and [int(r["id"]) for r in csv.DictReader(io.StringIO(out))] == old


async def test_store_and_status_filters_apply_before_the_limit(pool: Pool, tmp_path: Path) -> None:
    await seed(pool)
    async with app_client(pool, tmp_path / "credentials") as client:
        cases = {
            "status=open": "status = 'open'",
            "status=resolved&store=na": "status <> 'open' AND store_id = 'na'",
            "status=all&store=na": "store_id = 'na'",
            "store=eu": "store_id = 'eu' AND status = 'open'",
            "status=all&age=24": "detected_at < now() - interval '1 day'",
        }
        for query, condition in cases.items():
            expected = await ids_where(pool, condition)
            ids, totals = await json_pages(client, f"{query}&limit=1000")
            assert ids == expected and set(totals) == {len(expected)}, query
        assert len(await csv_ids(client, "status=all")) == OPEN_NA + RESOLVED_NA + OPEN_EU


async def test_paging_never_repeats_or_skips_while_new_drift_arrives(pool: Pool, tmp_path: Path) -> None:
    await seed(pool)
    expected = await ids_where(pool, "status = 'open'")
    async with app_client(pool, tmp_path / "credentials") as client:
        seen: list[int] = []
        url = "/v1/drift?limit=100"
        arrivals = 0
        while url:
            body = await (await client.get(url, headers=BEARER)).json()
            seen += [r["id"] for r in body["drift"]]
            arrivals += 1  # a store drifts again between two page fetches
            await pool.execute(
                "INSERT INTO synced_variants (store_id, external_id, variant_id) VALUES ('na', $1, 'v1');"
                "INSERT INTO drift_records (store_id, external_id, variant_id, detected_via, action)"
                " VALUES ('na', $1, 'v1', 'webhook', 'held')".replace("$1", f"'NEW-{arrivals}'")
            )
            url = f"/v1/drift?limit=100&after={body['next']}" if body["next"] else ""
        assert seen == expected  # each old record exactly once, in order; newer arrivals are on page 1
        assert body["total"] == len(expected) + arrivals - 1

        first = await (await client.get("/drift?status=open&limit=100", headers=BEARER)).text()
        next_url = link(first, "next")
        assert next_url is not None and link(first, "previous") is None
        second = await (await client.get(next_url, headers=BEARER)).text()
        assert "showing 101–200 of" in second
        assert "name='limit' size='4' value='100'" in second  # filtering again keeps the page size
        third = await (await client.get(link(second, "next") or "", headers=BEARER)).text()
        back = await (await client.get(link(third, "previous") or "", headers=BEARER)).text()
        assert html_ids(back) == html_ids(second) and "showing 101–200 of" in back

        await pool.execute(  # support resolves every record older than the third page meanwhile
            "UPDATE drift_records SET status = 'accepted' WHERE (detected_at, id) <"
            " (SELECT detected_at, id FROM drift_records WHERE id = $1)",
            html_ids(third)[-1],
        )
        left = await pool.fetchval("SELECT count(*) FROM drift_records WHERE status = 'open'")
        beyond = await (await client.get(link(third, "next") or "", headers=BEARER)).text()
        assert f"nothing on this page; {left:,} match" in beyond
        assert html_ids(await (await client.get(link(beyond, "previous") or "", headers=BEARER)).text()) == (
            html_ids(third)
        )


async def test_bad_paging_parameters_are_refused_naming_the_parameter(pool: Pool, tmp_path: Path) -> None:
    await seed(pool)
    async with app_client(pool, tmp_path / "credentials") as client:
        for path in ("/v1/drift", "/drift"):
            for query, field in (
                ("limit=0", "limit"),
                ("limit=-5", "limit"),
                ("limit=abc", "limit"),
                ("limit=1001", "limit"),
                ("limit=1e3", "limit"),
                ("after=not-a-cursor", "after"),
                ("after=MTIzNDU2", "after"),
                ("age=-1", "age"),
                ("age=nan", "age"),
            ):
                response = await client.get(f"{path}?{query}", headers=BEARER)
                body: dict[str, Any] = await response.json()
                assert response.status == 400 and body["field"] == field, (path, query, body)
                assert field in body["error"]
        before = await (await client.get("/drift?before=%00", headers=BEARER)).json()
        assert before["field"] == "query.before"
        assert (await client.get("/drift.csv?age=abc", headers=BEARER)).status == 400


async def test_cli_refuses_bad_paging_options_with_exit_2(pool: Pool, db_dsn: str, tmp_path: Path) -> None:
    await seed(pool)
    (tmp_path / "credentials").mkdir()
    for option in (["--limit", "0"], ["--limit", "x"], ["--older-than", "-3"], ["--older-than", "inf"]):
        code, _, err = await run_cli(db_dsn, tmp_path / "credentials", "drift", "list", *option)
        assert code == 2 and option[0].lstrip("-") in err, (option, err)
    code, out, _ = await run_cli(db_dsn, tmp_path / "credentials", "drift", "list", "--limit", "10")
    lines = out.splitlines()
    assert code == 0 and lines[-1] == "showing 10 of 1520 open record(s)" and len(lines) == 12
