"""Imports against a real database: every kind, idempotent re-import, all-or-nothing, stores round-trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import reconcilers
from daemon.db.catalog import import_rows
from daemon.db.pool import Pool
from daemon.db.stores import list_stores, load_store
from daemon.errors import InputError, NotFoundError
from daemon.importer import KINDS, ImportCounts, read_rows
from daemon.model import DriftPolicy, StoreConfig, StoreMode, StoreRules

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"
TABLES = (
    "facilities",
    "regions",
    "region_facilities",
    "variants",
    "facility_stock",
    "stores",
    "store_schedule",
    "synced_variants",
)


@pytest.fixture(autouse=True)
def platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcilers, "known_platforms", lambda: frozenset({"sandbox"}), raising=False)


async def load(pool: Pool, kind: str, path: Path) -> ImportCounts:
    rows = read_rows(kind, path)
    async with pool.acquire() as conn, conn.transaction():
        return await import_rows(conn, kind, rows, source=path.name)


async def load_all(pool: Pool, ext: str = "csv") -> list[ImportCounts]:
    return [await load(pool, kind, FIXTURES / f"{kind}.{ext}") for kind in KINDS]


async def snapshot(pool: Pool) -> dict[str, list[dict[str, Any]]]:
    tables = {t: [dict(r) for r in await pool.fetch(f"SELECT * FROM {t}")] for t in TABLES}
    return {t: sorted(rows, key=repr) for t, rows in tables.items()}


async def row_counts(pool: Pool) -> dict[str, int]:
    return {t: await pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("ext", ["csv", "json"])
async def test_every_kind_imports(pool: Pool, ext: str) -> None:
    counts = await load_all(pool, ext)
    assert [(c.rows, c.new, c.updated) for c in counts] == [
        (3, 3, 0),
        (3, 3, 0),
        (3, 3, 0),
        (6, 6, 0),
        (2, 2, 0),
        (4, 4, 0),
        (2, 2, 0),
        (2, 2, 0),
    ]
    assert await row_counts(pool) == {
        "facilities": 3,
        "regions": 2,
        "region_facilities": 3,
        "variants": 3,
        "facility_stock": 6,
        "stores": 2,
        "store_schedule": 2,
        "synced_variants": 4,
    }
    socks = await pool.fetchrow(
        "SELECT status, quantity FROM facility_stock WHERE variant_id = 'socks' AND facility_id = 'us1'"
    )
    assert socks is not None and (socks["status"], socks["quantity"]) == ("in_stock", 12)
    assert (
        await pool.fetchval(
            "SELECT quantity FROM facility_stock WHERE variant_id = 'tee' AND facility_id = 'us1'"
        )
        is None
    )


async def test_reimport_changes_nothing(pool: Pool) -> None:
    await load_all(pool)
    before = await snapshot(pool)
    again = await load_all(pool)
    assert [(c.new, c.updated, c.unchanged) for c in again] == [(0, 0, c.rows) for c in again]
    assert await snapshot(pool) == before  # updated_at and source_updated_at included


async def test_changed_rows_are_counted_and_only_they_move(pool: Pool, tmp_path: Path) -> None:
    await load_all(pool)
    before = {
        r["facility_id"]: r
        for r in await pool.fetch("SELECT * FROM facility_stock WHERE variant_id = 'socks'")
    }
    text = (
        (FIXTURES / "stock.csv")
        .read_text(encoding="utf-8")
        .replace("socks,us1,in_stock,12", "socks,us1,in_stock,11")
    )
    text += "mug,ca1,in_stock,\n"
    counts = await load(pool, "stock", write(tmp_path, "stock.csv", text))
    assert (counts.rows, counts.new, counts.updated, counts.unchanged) == (7, 1, 1, 5)
    after = {
        r["facility_id"]: r
        for r in await pool.fetch("SELECT * FROM facility_stock WHERE variant_id = 'socks'")
    }
    assert after["us1"]["quantity"] == 11
    assert after["us1"]["source_updated_at"] > before["us1"]["source_updated_at"]
    assert after["us1"]["updated_at"] > before["us1"]["updated_at"]
    assert after["lv1"] == before["lv1"]


async def test_one_bad_reference_leaves_every_table_unchanged(pool: Pool, tmp_path: Path) -> None:
    await load_all(pool)
    before = await snapshot(pool)
    text = (FIXTURES / "stock.csv").read_text(encoding="utf-8").replace("in_stock,12", "out_of_stock,0")
    path = write(tmp_path, "stock.csv", text + "socks,xx9,in_stock,1\n")
    with pytest.raises(InputError, match=r"^stock.csv:8: facility_id: unknown facility 'xx9'$"):
        await load(pool, "stock", path)
    assert await snapshot(pool) == before


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        (
            "regions",
            "region,facility_id\neurope,lv1\neurope,nope\n",
            "regions.csv:3: facility_id: unknown facility 'nope'",
        ),
        (
            "stock",
            "variant_id,facility_id,status,quantity\ntee,us1,in_stock,\nhat,us1,in_stock,\n",
            "stock.csv:3: variant_id: unknown variant 'hat'",
        ),
        (
            "stock",
            "variant_id,facility_id,status,quantity\ntee,us1,in_stock,2\n",
            "stock.csv:2: quantity: must be empty for a pod variant",
        ),
        (
            "stock",
            "variant_id,facility_id,status,quantity\nsocks,us1,in_stock,\n",
            "stock.csv:2: quantity: required for a warehouse variant (a whole number >= 0)",
        ),
        (
            "stores",
            "id,platform,region,drift_policy,mode,safety_buffer,credential,settings\nx,sandbox,asia,,,,tok,\n",
            "stores.csv:2: region: unknown region 'asia'",
        ),
        (
            "mappings",
            "store_id,external_id,variant_id\nna,A,tee\nzz,B,tee\n",
            "mappings.csv:3: store_id: unknown store 'zz'",
        ),
        (
            "mappings",
            "store_id,external_id,variant_id\nna,A,tee\nna,B,hat\n",
            "mappings.csv:3: variant_id: unknown variant 'hat'",
        ),
    ],
)
async def test_missing_references_name_the_line(
    pool: Pool, tmp_path: Path, kind: str, body: str, message: str
) -> None:
    await load_all(pool)
    before = await row_counts(pool)
    with pytest.raises(InputError) as caught:
        await load(pool, kind, write(tmp_path, f"{kind}.csv", body))
    assert str(caught.value) == message
    assert await row_counts(pool) == before


async def test_ids_from_another_kind_of_file_must_already_be_in_the_database(pool: Pool) -> None:
    # regions reference facilities: importing regions first fails even though facilities.csv has us1
    with pytest.raises(InputError, match=r"regions.csv:2: facility_id: unknown facility 'us1'"):
        await load(pool, "regions", FIXTURES / "regions.csv")
    assert (await row_counts(pool))["regions"] == 0


async def test_store_import_creates_its_schedule_once(pool: Pool, tmp_path: Path) -> None:
    await load_all(pool)
    await pool.execute(
        "UPDATE store_schedule SET consecutive_failures = 2, next_pass_at = '2030-01-01T00:00:00Z' WHERE store_id = 'na'"
    )
    schedule = await pool.fetchrow("SELECT * FROM store_schedule WHERE store_id = 'na'")
    text = (FIXTURES / "stores.csv").read_text(encoding="utf-8").replace("quantity,2,", "quantity,3,")
    counts = await load(pool, "stores", write(tmp_path, "stores.csv", text))
    assert (counts.new, counts.updated, counts.unchanged) == (0, 1, 1)
    assert await pool.fetchval("SELECT count(*) FROM store_schedule") == 2
    assert await pool.fetchrow("SELECT * FROM store_schedule WHERE store_id = 'na'") == schedule
    assert (await load_store(pool, "na")).rules.safety_buffer == 3


async def test_load_store_and_list_stores_round_trip(pool: Pool, tmp_path: Path) -> None:
    await load_all(pool, "json")
    async with pool.acquire() as conn:
        na = await load_store(conn, "na")
        assert na == StoreConfig(
            id="na",
            platform="sandbox",
            region="north_america",
            credential="na-token",
            drift_policy=DriftPolicy.OVERWRITE,
            rules=StoreRules(mode=StoreMode.QUANTITY, safety_buffer=2, max_quantity=50, pod_quantity=100),
            settings={"base_url": "http://127.0.0.1:8801", "location_id": 7},
            enabled=True,
            full_pass_interval_s=4 * 3600,
        )
        eu = await load_store(conn, "eu")
        assert (eu.enabled, eu.drift_policy, eu.rules, eu.settings) == (
            False,
            DriftPolicy.PROTECT,
            StoreRules(),
            {},
        )
        assert [s.id for s in await list_stores(conn)] == ["eu", "na"]
        assert await list_stores(conn, enabled_only=True) == [na]
        with pytest.raises(NotFoundError, match="'nope'"):
            await load_store(conn, "nope")
    header = "id,platform,region,drift_policy,mode,safety_buffer,credential,settings,full_pass_interval_minutes,pod_quantity\n"
    path = write(tmp_path, "stores.csv", header + "eu,sandbox,europe,report,,,eu-token,,15,7\n")
    await load(pool, "stores", path)
    eu = await load_store(pool, "eu")
    assert (eu.full_pass_interval_s, eu.rules.pod_quantity, eu.drift_policy, eu.enabled) == (
        900,
        7,
        DriftPolicy.REPORT,
        True,
    )


async def test_empty_file_imports_nothing(pool: Pool, tmp_path: Path) -> None:
    counts = await load(pool, "variants", write(tmp_path, "variants.csv", "id,sku,kind\n"))
    assert counts == ImportCounts(0)


class CountingConnection:
    """Forwards to a real connection and counts statements, to prove lookups are set-based."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.statements = 0

    async def fetch(self, *args: Any) -> Any:
        self.statements += 1
        return await self._conn.fetch(*args)

    async def execute(self, *args: Any) -> Any:
        self.statements += 1
        return await self._conn.execute(*args)


async def test_lookups_and_writes_are_set_based(pool: Pool, tmp_path: Path) -> None:
    await load_all(pool)
    lines = ["variant_id,facility_id,status,quantity"]
    lines += [f"v{i},us1,in_stock,{i}" for i in range(500)]
    variants = write(
        tmp_path, "variants.csv", "id,sku,kind\n" + "".join(f"v{i},V{i},warehouse\n" for i in range(500))
    )
    await load(pool, "variants", variants)
    rows = read_rows("stock", write(tmp_path, "stock.csv", "\n".join(lines) + "\n"))
    async with pool.acquire() as conn, conn.transaction():
        counting = CountingConnection(conn)
        counts = await import_rows(counting, "stock", rows, source="stock.csv")  # type: ignore[arg-type]
    assert counts == ImportCounts(500, new=500)
    # the catalog-change lock, variant kinds, facilities, one upsert, one enqueue_changed statement
    assert counting.statements == 5


async def test_stock_import_repairs_a_row_frozen_in_the_future_even_when_its_value_is_unchanged(
    pool: Pool,
) -> None:
    await load_all(pool)
    await pool.execute(
        "UPDATE facility_stock SET source_updated_at = now() + interval '10 years'"
        " WHERE variant_id = 'socks' AND facility_id = 'us1'"
    )
    counts = await load(pool, "stock", FIXTURES / "stock.csv")  # the same values as stored
    assert counts.updated == 1
    repaired = await pool.fetchval(
        "SELECT source_updated_at <= now() FROM facility_stock WHERE variant_id = 'socks' AND facility_id = 'us1'"
    )
    assert repaired is True
