"""A benchmark catalog built set-based in SQL: N stores each syncing the same M warehouse variants.

Variant i has `base_quantity(i)` units in us1; stores run in quantity mode, so desired = (True, qty).
The starting point is "in sync": every store shows, and we last applied, exactly the desired value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from daemon.db.pool import Pool

TOKEN = "bench-sandbox-token"
CREDENTIAL = "bench-token"
BUMP = 100  # what an upstream change adds to a variant's quantity


def external_id(i: int) -> str:
    return f"x{i:07d}"


def base_quantity(i: int) -> int:
    return i % 50 + 1


def index_of(external: str) -> int:
    return int(external[1:])


@dataclass(frozen=True)
class Catalog:
    stores: list[str]
    variants: int
    partitioned: bool = False

    def store_of(self, i: int) -> str:
        return self.stores[i % len(self.stores)] if self.partitioned else self.stores[0]

    def desired(self, i: int, changed_every: int | None) -> int:
        bumped = changed_every is not None and i % changed_every == 0
        return base_quantity(i) + (BUMP if bumped else 0)


_FACILITIES = """
INSERT INTO facilities VALUES ('us1', 'US', ''), ('ca1', 'CA', '');
INSERT INTO regions VALUES ('north_america');
INSERT INTO region_facilities VALUES ('north_america', 'us1'), ('north_america', 'ca1');
"""
_VARIANTS = """
INSERT INTO variants (id, sku, kind)
SELECT 'v' || lpad(i::text, 7, '0'), 'SKU-' || i, 'warehouse' FROM generate_series(1, $1) AS i
"""
_STOCK = """
INSERT INTO facility_stock (variant_id, facility_id, status, quantity)
SELECT 'v' || lpad(i::text, 7, '0'), f.id, CASE WHEN f.id = 'us1' THEN 'in_stock' ELSE 'out_of_stock' END,
       CASE WHEN f.id = 'us1' THEN i % 50 + 1 ELSE 0 END
FROM generate_series(1, $1) AS i CROSS JOIN (VALUES ('us1'), ('ca1')) AS f (id)
"""
_STORES = """
INSERT INTO stores (id, platform, region_id, credential, mode, settings)
SELECT s.id, 'sandbox', 'north_america', $2, 'quantity', s.settings::jsonb
FROM unnest($1::text[], $3::text[]) AS s (id, settings)
"""
_SCHEDULE = (
    "INSERT INTO store_schedule (store_id, next_pass_at) SELECT unnest($1::text[]), now() + interval '1 day'"
)
_SYNCED = """
INSERT INTO synced_variants (store_id, external_id, variant_id)
SELECT s, 'x' || lpad(i::text, 7, '0'), 'v' || lpad(i::text, 7, '0')
FROM unnest($1::text[]) WITH ORDINALITY AS s (s, k) CROSS JOIN generate_series(1, $2) AS i
WHERE NOT $3 OR i % cardinality($1) = k - 1
"""
_IN_SYNC_STATE = """
INSERT INTO store_state (store_id, external_id, observed_available, observed_quantity, observed_at,
                         applied_available, applied_quantity, applied_at)
SELECT store_id, external_id, true, substr(external_id, 2)::int % 50 + 1, now(),
       true, substr(external_id, 2)::int % 50 + 1, now()
FROM synced_variants
"""
_CHANGE = """
UPDATE facility_stock SET quantity = quantity + $2, source_updated_at = now()
WHERE facility_id = 'us1' AND substr(variant_id, 2)::int % $1 = 0
"""


async def create(
    pool: Pool,
    credentials_dir: Path,
    store_settings: dict[str, dict[str, object]],
    variants: int,
    *,
    partitioned: bool = False,
) -> Catalog:
    """Stores (id → reconciler settings such as base_url), all in sync: each syncs all M variants, or
    (partitioned) store k of n syncs the variants i with i % n == k, so an event touches one store."""
    stores = sorted(store_settings)
    (credentials_dir / CREDENTIAL).write_text(json.dumps({"token": TOKEN}))
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_FACILITIES)
        await conn.execute(_VARIANTS, variants)
        await conn.execute(_STOCK, variants)
        await conn.execute(_STORES, stores, CREDENTIAL, [json.dumps(store_settings[s]) for s in stores])
        await conn.execute(_SCHEDULE, stores)
        await conn.execute(_SYNCED, stores, variants, partitioned)
        await conn.execute(_IN_SYNC_STATE)
    await pool.execute("ANALYZE")
    return Catalog(stores, variants, partitioned)


async def change_upstream(pool: Pool, catalog: Catalog, every: int) -> int:
    """Every `every`-th variant's stock rises by BUMP; returns how many variants changed."""
    await pool.execute(_CHANGE, every, BUMP)
    return catalog.variants // every


def in_sync_items(catalog: Catalog, store_id: str | None = None) -> list[dict[str, object]]:
    """What a store shows at the start (the sandbox's /control/items seed)."""
    return [
        {"external_id": external_id(i), "available": True, "quantity": base_quantity(i)}
        for i in range(1, catalog.variants + 1)
        if store_id is None or not catalog.partitioned or catalog.store_of(i) == store_id
    ]
