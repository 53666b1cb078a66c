"""A small catalog inserted straight into the schema, for database-level tests."""

from __future__ import annotations

from daemon.db.pool import Connection

SEED_SQL = """
INSERT INTO facilities VALUES ('us1', 'US', 'US'), ('ca1', 'CA', 'CA'), ('lv1', 'LV', 'LV');
INSERT INTO regions VALUES ('north_america'), ('europe');
INSERT INTO region_facilities VALUES ('north_america', 'us1'), ('north_america', 'ca1'), ('europe', 'lv1');
INSERT INTO variants VALUES ('tee', 'TEE', 'pod'), ('mug', 'MUG', 'pod'), ('socks', 'SOCKS', 'warehouse');
INSERT INTO stores (id, platform, region_id, credential) VALUES
    ('na', 'sandbox', 'north_america', 'na-token'), ('eu', 'sandbox', 'europe', 'eu-token');
INSERT INTO store_schedule (store_id) VALUES ('na'), ('eu');
INSERT INTO synced_variants (store_id, external_id, variant_id) VALUES
    ('na', 'NA-TEE', 'tee'), ('na', 'NA-SOCKS', 'socks'), ('eu', 'EU-TEE', 'tee'), ('eu', 'EU-MUG', 'mug');
"""


async def seed(conn: Connection) -> None:
    await conn.execute(SEED_SQL)
