"""The drift CSV export, end to end: a SKU that is a formula with an escape sequence arrives as text."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from daemon.db.pool import Pool
from tests.e2e.test_drift_page import ADMIN, drift_site

EVIL = '=HYPERLINK("http://evil.example/?x","click")\x1b[2J'


async def test_the_drift_export_neutralises_a_formula_sku(pool: Pool, tmp_path: Path) -> None:
    async with drift_site(pool, tmp_path) as (_, client, _drift_id):
        await pool.execute("UPDATE variants SET sku = $1 WHERE id = 'tee'", EVIL)
        response = await client.get("/drift.csv", headers={"Authorization": f"Bearer {ADMIN}"})
        assert response.status == 200
        text = await response.text()
    assert "\x1b" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and rows[0]["sku"].startswith("'=HYPERLINK(")
